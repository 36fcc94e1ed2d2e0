// Round trips, both ways: programs through bytes and text, and bytes
// through programs and text.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "random_program.h"
#include "reservoir/program/decode.h"
#include "reservoir/program/encode.h"
#include "reservoir/program/layout.h"
#include "reservoir/program/text_format.h"
#include "reservoir/program/validate.h"

namespace reservoir::program {
namespace {

constexpr size_t kFullSize =
    layout::kHeaderSize + kMaxOps * layout::kOpRecordSize;

Program ParseOrDie(const std::string& text) {
  ParseResult result = FromText(text);
  EXPECT_TRUE(result.ok()) << result.error->ToString() << "\n" << text;
  return result.program;
}

TEST(RoundTrip, RandomProgramsThroughBytesAndText) {
  std::mt19937 rng(12345);
  for (int i = 0; i < 2000; ++i) {
    const Program program = testing::RandomProgram(rng);
    ASSERT_FALSE(HasErrors(Validate(program)));
    ASSERT_EQ(Decode(Encode(program)), program) << ToText(program);
    const std::string text = ToText(program);
    const Program parsed = ParseOrDie(text);
    ASSERT_EQ(parsed, program) << text;
    ASSERT_EQ(ToText(parsed), text);
  }
}

TEST(RoundTrip, RandomBytesThroughProgramsAndText) {
  std::mt19937 rng(54321);
  for (int i = 0; i < 5000; ++i) {
    const std::vector<uint8_t> bytes = testing::RandomBytes(rng, kFullSize);
    const std::vector<uint8_t> canonical = Encode(Decode(bytes));
    // Canonical bytes are a fixed point.
    ASSERT_EQ(Encode(Decode(canonical)), canonical);
    // bytes -> program -> text -> program -> bytes == Encode(Decode(bytes)).
    ASSERT_EQ(Encode(ParseOrDie(ToText(Decode(bytes)))), canonical);
  }
}

TEST(RoundTrip, EveryOpKindWithRandomArguments) {
  std::mt19937 rng(99);
  for (int k = 0; k < kOpKindCount; ++k) {
    const auto kind = static_cast<OpKind>(k);
    for (int i = 0; i < 200; ++i) {
      const Op op = testing::RandomOp(rng, kind);
      const auto record = EncodeOp(op);
      ASSERT_EQ(DecodeOp(record), op) << OpToText(op);
      Program program;
      program.ops.push_back(op);
      ASSERT_EQ(ParseOrDie(ToText(program)), program) << OpToText(op);
    }
  }
}

TEST(RoundTrip, ArgumentCodecsExhaustively) {
  for (int t = 0; t < kArgTypeCount; ++t) {
    const auto type = static_cast<ArgType>(t);
    // Every raw value of one- and two-byte types; a sample of wider ones.
    const uint32_t raws =
        ArgWidth(type) <= 2 ? 1u << (8 * ArgWidth(type)) : 1u << 16;
    for (uint32_t i = 0; i < raws; ++i) {
      const uint32_t raw = ArgWidth(type) <= 2 ? i : i * 65537u + (i >> 3);
      const uint32_t value = ArgFromRaw(type, raw);
      ASSERT_TRUE(ArgInRange(type, value)) << ArgTypeName(type) << " " << raw;
      ASSERT_EQ(ArgFromRaw(type, ArgToRaw(type, value)), value)
          << ArgTypeName(type) << " " << raw;
    }
    EXPECT_TRUE(ArgInRange(type, ArgMin(type))) << ArgTypeName(type);
    EXPECT_TRUE(ArgInRange(type, ArgMax(type))) << ArgTypeName(type);
  }
}

TEST(RoundTrip, ZeroHeaderIsCanonical) {
  const std::vector<uint8_t> zeros(layout::kHeaderSize, 0);
  EXPECT_EQ(Encode(Decode(zeros)), zeros);
  EXPECT_EQ(Encode(Program{}), zeros);
}

TEST(RoundTrip, CanonicalTextIsAFixedPoint) {
  const std::string text =
      "# reservoir program v1\n"
      "config normal_pages=2048 highmem_pages=512 max_order=9 "
      "min_free_kbytes=0 nr_cpus=4 slab_policy=page_tag estimator=2n+m "
      "audit=cheap\n"
      "faults mode=input seed=4294967295 probability_ppm=1000000 "
      "fail_nth=65536 sites=page_alloc|slab_new_slab|slab_object|"
      "reserve_charge|reserve_set\n"
      "set_pf_memalloc\n"
      "kmalloc_reserve size=8193 gfp=KERNEL|MEMALLOC cpu=3 res=0\n"
      "fail_next site=reserve_charge skip=255\n"
      "kfree_reserve grant=0\n"
      "clear_pf_memalloc\n";
  EXPECT_EQ(ToText(ParseOrDie(text)), text);
}

TEST(RoundTrip, TextLeniencyDisappearsInCanonicalText) {
  // Comments, blank lines, CRLF, tabs, field order, hex, aliases, "all".
  const std::string loose =
      "# a hand-written seed\n"
      "\n"
      "config   max_order=10 normal_pages=0x400 highmem_pages=0 "
      "min_free_kbytes=-1 nr_cpus=2 slab_policy=no_mixing estimator=exact "
      "audit=full   # 4 MiB\r\n"
      "faults sites=all mode=random probability_ppm=10000 seed=0x10 "
      "fail_nth=1\n"
      "\tkmalloc cpu=1 gfp=DIRECT_RECLAIM|ZERO|HIGH size=96\n"
      "alloc_pages gfp=0x40 order=2 cpu=0 # zeroed\n";
  const std::string canonical =
      "# reservoir program v1\n"
      "config normal_pages=1024 highmem_pages=0 max_order=10 "
      "min_free_kbytes=default nr_cpus=2 slab_policy=no_mixing "
      "estimator=exact audit=full\n"
      "faults mode=random seed=16 probability_ppm=10000 fail_nth=1 "
      "sites=page_alloc|slab_new_slab|slab_object|reserve_charge|"
      "reserve_set\n"
      "kmalloc size=96 gfp=KERNEL|HIGH|ZERO cpu=1\n"
      "alloc_pages order=2 gfp=ZERO cpu=0\n";
  const ParseResult parsed = FromText(loose);
  ASSERT_TRUE(parsed.ok()) << parsed.error->ToString();
  EXPECT_EQ(ToText(parsed.program), canonical);
  EXPECT_EQ(parsed.op_lines, (std::vector<int>{5, 6}));
}

}  // namespace
}  // namespace reservoir::program
