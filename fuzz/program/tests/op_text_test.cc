// One test per operation kind pinning its text form, and the gfp spelling.
#include <gtest/gtest.h>

#include <string>

#include "reservoir/gfp.h"
#include "reservoir/program/decode.h"
#include "reservoir/program/encode.h"
#include "reservoir/program/text_format.h"

namespace reservoir::program {
namespace {

struct Example {
  Op op;
  const char* text;
};

// Hand-written: each line is what the spec says the op prints as.
const Example kExamples[] = {
    {op::Nop{}, "nop"},
    {op::AllocPages{.order = 3, .gfp = kGfpKernel | kGfpZero, .cpu = 1},
     "alloc_pages order=3 gfp=KERNEL|ZERO cpu=1"},
    {op::FreePages{.page = 2}, "free_pages page=2"},
    {op::Kmalloc{.size = 8193, .gfp = kGfpAtomic, .cpu = 0},
     "kmalloc size=8193 gfp=ATOMIC cpu=0"},
    {op::Kfree{.obj = 255}, "kfree obj=255"},
    {op::CacheCreate{.size = 192, .align = 64},
     "cache_create size=192 align=64"},
    {op::CacheAlloc{.cache = 1, .gfp = kGfpMemalloc, .cpu = 3},
     "cache_alloc cache=1 gfp=MEMALLOC cpu=3"},
    {op::CacheFree{.obj = 4}, "cache_free obj=4"},
    {op::CacheDestroy{.cache = 0}, "cache_destroy cache=0"},
    {op::ReserveCreate{.parent = 0}, "reserve_create parent=0"},
    {op::ReserveSetPages{.res = 1, .pages = 65535},
     "reserve_set_pages res=1 pages=65535"},
    {op::ReserveSetKmalloc{.res = 2, .bytes = 4294967295u},
     "reserve_set_kmalloc res=2 bytes=4294967295"},
    {op::ReserveSetCache{.res = 1, .cache = 2, .objects = 300},
     "reserve_set_cache res=1 cache=2 objects=300"},
    {op::ReserveConnect{.res = 3, .parent = 1},
     "reserve_connect res=3 parent=1"},
    {op::ReserveDisconnect{.res = 3}, "reserve_disconnect res=3"},
    {op::ReserveCharge{.res = 1, .bytes = 4096},
     "reserve_charge res=1 bytes=4096"},
    {op::ReserveUncharge{.charge = 0}, "reserve_uncharge charge=0"},
    {op::KmallocReserve{
         .size = 96, .gfp = kGfpKernel | kGfpMemalloc, .cpu = 2, .res = 1},
     "kmalloc_reserve size=96 gfp=KERNEL|MEMALLOC cpu=2 res=1"},
    {op::KfreeReserve{.grant = 1}, "kfree_reserve grant=1"},
    {op::AllocPagesReserve{
         .order = 10, .gfp = kGfpNoMemalloc, .cpu = 0, .res = 0},
     "alloc_pages_reserve order=10 gfp=NOMEMALLOC cpu=0 res=0"},
    {op::FreePagesReserve{.grant = 0}, "free_pages_reserve grant=0"},
    {op::CacheAllocReserve{
         .cache = 0, .gfp = kGfpAtomic | kGfpNoWarn, .cpu = 1, .res = 2},
     "cache_alloc_reserve cache=0 gfp=ATOMIC|NOWARN cpu=1 res=2"},
    {op::CacheFreeReserve{.grant = 7}, "cache_free_reserve grant=7"},
    {op::SetPfMemalloc{}, "set_pf_memalloc"},
    {op::ClearPfMemalloc{}, "clear_pf_memalloc"},
    {op::EnterSoftirq{}, "enter_softirq"},
    {op::LeaveSoftirq{}, "leave_softirq"},
    {op::SetOomVictim{}, "set_oom_victim"},
    {op::ClearOomVictim{}, "clear_oom_victim"},
    {op::Pressure{.pages = 1024, .gfp = kGfpKernel | kGfpHigh, .cpu = 1},
     "pressure pages=1024 gfp=KERNEL|HIGH cpu=1"},
    {op::ReleasePressure{}, "release_pressure"},
    {op::FailNext{.site = FaultSite::kSlabNewSlab, .skip = 3},
     "fail_next site=slab_new_slab skip=3"},
    {op::Audit{}, "audit"},
};

constexpr const char* kHeaderText =
    "# reservoir program v1\n"
    "config normal_pages=256 highmem_pages=0 max_order=8 "
    "min_free_kbytes=default nr_cpus=1 slab_policy=page_tag estimator=exact "
    "audit=cheap\n"
    "faults mode=none seed=0 probability_ppm=0 fail_nth=1 sites=none\n";

// The op prints as its text, the text parses back to the op, and the op
// survives the binary encoding.
void CheckKind(OpKind kind) {
  const Example* example = nullptr;
  for (const Example& candidate : kExamples) {
    if (KindOf(candidate.op) == kind) example = &candidate;
  }
  ASSERT_NE(example, nullptr) << "no example for " << OpName(kind);
  EXPECT_EQ(OpToText(example->op), example->text);
  const std::string text = std::string(kHeaderText) + example->text + "\n";
  const ParseResult parsed = FromText(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error->ToString();
  ASSERT_EQ(parsed.program.ops.size(), 1u);
  EXPECT_EQ(parsed.program.ops[0], example->op);
  EXPECT_EQ(ToText(parsed.program), text);
  EXPECT_EQ(DecodeOp(EncodeOp(example->op)), example->op);
}

TEST(OpText, ExamplesCoverEveryKindOnce) {
  int seen[kOpKindCount] = {};
  for (const Example& example : kExamples) {
    ++seen[static_cast<int>(KindOf(example.op))];
  }
  for (int k = 0; k < kOpKindCount; ++k) {
    EXPECT_EQ(seen[k], 1) << OpName(static_cast<OpKind>(k));
  }
}

TEST(OpText, Nop) { CheckKind(OpKind::kNop); }
TEST(OpText, AllocPages) { CheckKind(OpKind::kAllocPages); }
TEST(OpText, FreePages) { CheckKind(OpKind::kFreePages); }
TEST(OpText, Kmalloc) { CheckKind(OpKind::kKmalloc); }
TEST(OpText, Kfree) { CheckKind(OpKind::kKfree); }
TEST(OpText, CacheCreate) { CheckKind(OpKind::kCacheCreate); }
TEST(OpText, CacheAlloc) { CheckKind(OpKind::kCacheAlloc); }
TEST(OpText, CacheFree) { CheckKind(OpKind::kCacheFree); }
TEST(OpText, CacheDestroy) { CheckKind(OpKind::kCacheDestroy); }
TEST(OpText, ReserveCreate) { CheckKind(OpKind::kReserveCreate); }
TEST(OpText, ReserveSetPages) { CheckKind(OpKind::kReserveSetPages); }
TEST(OpText, ReserveSetKmalloc) { CheckKind(OpKind::kReserveSetKmalloc); }
TEST(OpText, ReserveSetCache) { CheckKind(OpKind::kReserveSetCache); }
TEST(OpText, ReserveConnect) { CheckKind(OpKind::kReserveConnect); }
TEST(OpText, ReserveDisconnect) { CheckKind(OpKind::kReserveDisconnect); }
TEST(OpText, ReserveCharge) { CheckKind(OpKind::kReserveCharge); }
TEST(OpText, ReserveUncharge) { CheckKind(OpKind::kReserveUncharge); }
TEST(OpText, KmallocReserve) { CheckKind(OpKind::kKmallocReserve); }
TEST(OpText, KfreeReserve) { CheckKind(OpKind::kKfreeReserve); }
TEST(OpText, AllocPagesReserve) { CheckKind(OpKind::kAllocPagesReserve); }
TEST(OpText, FreePagesReserve) { CheckKind(OpKind::kFreePagesReserve); }
TEST(OpText, CacheAllocReserve) { CheckKind(OpKind::kCacheAllocReserve); }
TEST(OpText, CacheFreeReserve) { CheckKind(OpKind::kCacheFreeReserve); }
TEST(OpText, SetPfMemalloc) { CheckKind(OpKind::kSetPfMemalloc); }
TEST(OpText, ClearPfMemalloc) { CheckKind(OpKind::kClearPfMemalloc); }
TEST(OpText, EnterSoftirq) { CheckKind(OpKind::kEnterSoftirq); }
TEST(OpText, LeaveSoftirq) { CheckKind(OpKind::kLeaveSoftirq); }
TEST(OpText, SetOomVictim) { CheckKind(OpKind::kSetOomVictim); }
TEST(OpText, ClearOomVictim) { CheckKind(OpKind::kClearOomVictim); }
TEST(OpText, Pressure) { CheckKind(OpKind::kPressure); }
TEST(OpText, ReleasePressure) { CheckKind(OpKind::kReleasePressure); }
TEST(OpText, FailNext) { CheckKind(OpKind::kFailNext); }
TEST(OpText, Audit) { CheckKind(OpKind::kAudit); }

TEST(GfpText, CanonicalSpellings) {
  EXPECT_EQ(GfpToText(0), "0");
  EXPECT_EQ(GfpToText(kGfpKernel), "KERNEL");
  EXPECT_EQ(GfpToText(kGfpAtomic), "ATOMIC");
  EXPECT_EQ(GfpToText(kGfpKernel | kGfpHigh), "KERNEL|HIGH");
  EXPECT_EQ(GfpToText(kGfpKernel | kGfpZero), "KERNEL|ZERO");
  EXPECT_EQ(GfpToText(kGfpAllKnown),
            "KERNEL|HIGH|MEMALLOC|NOMEMALLOC|NOFAIL|NOWARN|ZERO|HIGHMEM");
}

TEST(GfpText, EveryByteRoundTripsThroughText) {
  for (int gfp = 0; gfp < 256; ++gfp) {
    const Op op = op::Kmalloc{.size = 1, .gfp = static_cast<uint8_t>(gfp)};
    const std::string text = std::string(kHeaderText) + OpToText(op) + "\n";
    const ParseResult parsed = FromText(text);
    ASSERT_TRUE(parsed.ok()) << parsed.error->ToString();
    EXPECT_EQ(parsed.program.ops.at(0), op) << text;
  }
}

}  // namespace
}  // namespace reservoir::program
