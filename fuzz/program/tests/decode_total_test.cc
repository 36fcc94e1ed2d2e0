// The decoder is total and bounded: any bytes decode, to at most kMaxOps
// operations, into a program without validation errors.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "random_program.h"
#include "reservoir/program/decode.h"
#include "reservoir/program/layout.h"
#include "reservoir/program/validate.h"

namespace reservoir::program {
namespace {

constexpr size_t kFullSize =
    layout::kHeaderSize + kMaxOps * layout::kOpRecordSize;

// Operations a byte string of `size` decodes to: whole and partial records
// after the header, at most kMaxOps.
size_t ExpectedOps(size_t size) {
  if (size <= layout::kHeaderSize) return 0;
  const size_t records =
      (size - layout::kHeaderSize + layout::kOpRecordSize - 1) /
      layout::kOpRecordSize;
  return std::min(records, kMaxOps);
}

void ExpectDecodesCleanly(const std::vector<uint8_t>& bytes) {
  const Program program = Decode(bytes);
  ASSERT_EQ(program.ops.size(), ExpectedOps(bytes.size()))
      << "size " << bytes.size();
  const std::vector<Problem> problems = Validate(program);
  for (const Problem& problem : problems) {
    ASSERT_NE(problem.severity, Severity::kError) << problem.ToString();
  }
}

TEST(DecodeTotal, EmptyInputIsTheDefaultProgram) {
  EXPECT_EQ(Decode({}), Program{});
}

TEST(DecodeTotal, AllZeroBytesAreNops) {
  for (size_t size : {size_t{1}, size_t{23}, size_t{24}, size_t{25}, size_t{32},
                      kFullSize, kFullSize + 1000}) {
    const std::vector<uint8_t> bytes(size, 0);
    ExpectDecodesCleanly(bytes);
    const Program program = Decode(bytes);
    EXPECT_EQ(program.header, Header{});
    for (const Op& op : program.ops) EXPECT_EQ(op, Op{op::Nop{}});
  }
}

TEST(DecodeTotal, AllOnesBytes) {
  for (size_t size :
       {size_t{1}, size_t{24}, size_t{31}, kFullSize, kFullSize + 7}) {
    ExpectDecodesCleanly(std::vector<uint8_t>(size, 0xff));
  }
}

TEST(DecodeTotal, RandomBytesOfRandomLength) {
  std::mt19937 rng(20240601);
  for (int i = 0; i < 20000; ++i) {
    ExpectDecodesCleanly(testing::RandomBytes(rng, kFullSize + 64));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(DecodeTotal, EverySingleByteInput) {
  for (int byte = 0; byte < 256; ++byte) {
    ExpectDecodesCleanly({static_cast<uint8_t>(byte)});
  }
}

TEST(DecodeTotal, BytesPastTheLastRecordAreIgnored) {
  std::mt19937 rng(7);
  std::vector<uint8_t> bytes(kFullSize);
  for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(rng());
  std::vector<uint8_t> longer = bytes;
  longer.insert(longer.end(), 500, 0xab);
  EXPECT_EQ(Decode(bytes), Decode(longer));
}

TEST(DecodeTotal, TruncatedLastRecordReadsMissingBytesAsZero) {
  std::vector<uint8_t> bytes(layout::kHeaderSize, 0);
  bytes.insert(bytes.end(), {3, 0x34, 0x12});  // kmalloc, size 0x1234
  const Program program = Decode(bytes);
  ASSERT_EQ(program.ops.size(), 1u);
  EXPECT_EQ(program.ops[0],
            Op(op::Kmalloc{.size = 0x1234, .gfp = 0, .cpu = 0}));
}

TEST(DecodeTotal, OpcodeIsTakenModuloTheSlotCount) {
  for (int high : {0, 64, 128, 192}) {
    const uint8_t record[] = {static_cast<uint8_t>(4 + high), 9};
    EXPECT_EQ(DecodeOp(record), Op(op::Kfree{.obj = 9})) << high;
  }
}

TEST(DecodeTotal, UnusedSlotsDecodeAsNop) {
  bool used[layout::kOpcodeSlots] = {};
  for (const OpInfo& info : kOpInfos) used[info.slot] = true;
  for (int slot = 0; slot < layout::kOpcodeSlots; ++slot) {
    const uint8_t record[] = {static_cast<uint8_t>(slot), 1, 2, 3, 4, 5, 6, 7};
    const Op op = DecodeOp(record);
    if (used[slot]) {
      EXPECT_EQ(InfoOf(KindOf(op)).slot, slot);
    } else {
      EXPECT_EQ(op, Op(op::Nop{})) << slot;
    }
  }
}

TEST(DecodeTotal, HeaderFieldsStayInTheirTables) {
  // Every value of every single header byte, others zero or 0xff.
  for (uint8_t fill : {0x00, 0xff}) {
    for (size_t offset = 0; offset < layout::kHeaderSize; ++offset) {
      for (int value = 0; value < 256; ++value) {
        std::vector<uint8_t> bytes(layout::kHeaderSize, fill);
        bytes[offset] = static_cast<uint8_t>(value);
        ExpectDecodesCleanly(bytes);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

}  // namespace
}  // namespace reservoir::program
