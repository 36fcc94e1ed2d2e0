// Every report class of report.h fires, with its stable first line, on a
// state corrupted through the ...ForTesting() hooks or on the misuse itself;
// the report machinery (names, context providers, the test handler) works.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "reservoir/model.h"
#include "reservoir/report.h"
#include "test_support.h"

namespace reservoir {
namespace {

using test::Exhaust;
using test::KernelCtx;
using test::MemallocCtx;
using test::SlabHeadOf;

ModelConfig SmallConfig(AuditLevel audit = AuditLevel::kCheap) {
  ModelConfig config;
  config.normal_pages = 512;
  config.max_order = 7;
  config.min_free_kbytes = 400;  // min 100, low 125
  config.nr_cpus = 2;
  config.audit = audit;
  return config;
}

class ReportDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
  Model model_{SmallConfig()};
};

// ---------------------------------------------------------------------------
// reserve-leak

TEST_F(ReportDeathTest, ReserveLeakLiveObject) {
  void* object = model_.Kmalloc(64, KernelCtx());
  ASSERT_NE(object, nullptr);
  EXPECT_DEATH(model_.CheckPristine(),
               "RESERVOIR BUG: reserve-leak: [a-z0-9_./-]+\nRESERVOIR DETAIL: 1 slab objects are still live");
}

TEST_F(ReportDeathTest, ReserveLeakPage) {
  ASSERT_NE(model_.AllocPages(1, KernelCtx()), kNoPfn);
  EXPECT_DEATH(model_.CheckPristine(),
               "RESERVOIR BUG: reserve-leak: [a-z0-9_./-]+\nRESERVOIR DETAIL: after everything was freed, zone "
               "Normal has 2 of 512 pages still allocated");
}

TEST_F(ReportDeathTest, ReserveLeakChargeAndStrictReserve) {
  const ReserveId node = model_.reserves().Create("leaky", kRootReserve);
  ASSERT_EQ(model_.reserves().PagesSet(node, 2), ReserveStatus::kOk);
  EXPECT_DEATH(model_.CheckPristine(),
               "RESERVOIR BUG: reserve-leak: [a-z0-9_./-]+\nRESERVOIR DETAIL: the strict reserve still holds 2 pages");
  ASSERT_EQ(model_.reserves().TryCharge(node, 100, "test").status, ReserveStatus::kOk);
  EXPECT_DEATH(model_.CheckPristine(),
               "RESERVOIR BUG: reserve-leak: [a-z0-9_./-]+\nRESERVOIR DETAIL: reserve 'root' still has 100 bytes charged");
}

// ---------------------------------------------------------------------------
// slab-mixing: no correct path hands a reserve object to an unentitled
// caller, so the hook plays the 3.6 fast path that skipped the match.

TEST_F(ReportDeathTest, SlabMixing) {
  std::vector<test::PageBlock> pressure = Exhaust(model_, KernelCtx());
  void* reserve_object = model_.Kmalloc(32, MemallocCtx(0));
  ASSERT_NE(reserve_object, nullptr);
  ASSERT_TRUE(model_.slab().slab(SlabHeadOf(model_, reserve_object)).pfmemalloc);
  KmemCache* cache = model_.slab().KmallocCache(KmallocIndex(32));
  // Entitled: allowed.
  EXPECT_NE(model_.slab().TakeFromActiveSlabForTesting(cache, MemallocCtx(0)), nullptr);
  EXPECT_DEATH(model_.slab().TakeFromActiveSlabForTesting(cache, KernelCtx(0)),
               "RESERVOIR BUG: slab-mixing: [a-z0-9_./-]+\nRESERVOIR DETAIL: cache kmalloc-32: an object of reserve "
               "slab pfn [0-9]+ went to a caller without reserve access");
}

// ---------------------------------------------------------------------------
// accounting-imbalance

TEST_F(ReportDeathTest, AccountingImbalanceCorruptUsage) {
  const ReserveId node = model_.reserves().Create("r", kRootReserve);
  ASSERT_EQ(model_.reserves().PagesSet(node, 1), ReserveStatus::kOk);
  model_.reserves().CorruptUsageForTesting(node, 8);
  EXPECT_DEATH(model_.AuditFull(),
               "RESERVOIR BUG: accounting-imbalance: [a-z0-9_./-]+\nRESERVOIR DETAIL: reserve '(root|r)': pages 1 ");
}

TEST_F(ReportDeathTest, AccountingImbalanceUnchargeMoreThanCharged) {
  const ReserveId node = model_.reserves().Create("r", kRootReserve);
  ASSERT_EQ(model_.reserves().PagesSet(node, 1), ReserveStatus::kOk);
  ASSERT_EQ(model_.reserves().TryCharge(node, 96, "test").status, ReserveStatus::kOk);
  EXPECT_DEATH(model_.reserves().Uncharge(node, 128),
               "RESERVOIR BUG: accounting-imbalance: [a-z0-9_./-]+\nRESERVOIR DETAIL: uncharge of 128 bytes from "
               "reserve 'r' which has only 96 bytes charged");
  EXPECT_DEATH(model_.reserves().Uncharge(40, 1),
               "RESERVOIR BUG: accounting-imbalance: [a-z0-9_./-]+\nRESERVOIR DETAIL: uncharge of 1 bytes from "
               "reserve #40 which does not exist");
}

TEST_F(ReportDeathTest, AccountingImbalanceStrictReserveBehindTheTreesBack) {
  ASSERT_TRUE(model_.pages().SetStrictReserve(5));
  EXPECT_DEATH(model_.AuditFull(),
               "RESERVOIR BUG: accounting-imbalance: [a-z0-9_./-]+\nRESERVOIR DETAIL: the root reserve holds 0 "
               "pages but the strict reserve is 5");
}

// ---------------------------------------------------------------------------
// guarantee-violation: 2N + m reserves 2 pages for N = 56 bytes; the third
// of 8 + 16 + 32 bytes on one CPU needs a third reserve slab.

TEST_F(ReportDeathTest, GuaranteeViolation) {
  ModelConfig config;
  config.normal_pages = 256;
  config.max_order = 6;
  config.min_free_kbytes = 0;
  config.nr_cpus = 1;
  config.estimator = EstimatorKind::kTwiceNPlusM;
  Model model(config);
  const ReserveId node = model.reserves().Create("net", kRootReserve);
  ASSERT_EQ(model.reserves().KmallocSet(node, 56), ReserveStatus::kOk);
  Exhaust(model, KernelCtx());
  ASSERT_TRUE(model.KmallocReserve(8, MemallocCtx(), node).emergency);
  ASSERT_TRUE(model.KmallocReserve(16, MemallocCtx(), node).emergency);
  EXPECT_DEATH(model.KmallocReserve(32, MemallocCtx(), node),
               "RESERVOIR BUG: guarantee-violation: [a-z0-9_./-]+\nRESERVOIR DETAIL: kmalloc_reserve\\(32\\) failed "
               "for reserve 'net' within its limit");
}

// ---------------------------------------------------------------------------
// watermark-breach: fewer pages free than the strict reserve, with no
// reserve pages handed out to explain it.

TEST_F(ReportDeathTest, WatermarkBreach) {
  const ReserveId node = model_.reserves().Create("r", kRootReserve);
  ASSERT_EQ(model_.reserves().PagesSet(node, 10), ReserveStatus::kOk);
  const int64_t free = static_cast<int64_t>(model_.pages().free_pages());
  model_.pages().CorruptFreeCountForTesting(kZoneNormal, 5 - free);
  EXPECT_DEATH(model_.AuditFull(),
               "RESERVOIR BUG: watermark-breach: [a-z0-9_./-]+\nRESERVOIR DETAIL: zone Normal: 5 free \\+ 0 reserve "
               "pages in use < strict reserve 10");
}

// ---------------------------------------------------------------------------
// buddy-corruption

TEST_F(ReportDeathTest, BuddyCorruption) {
  ASSERT_EQ(model_.AllocPages(0, KernelCtx()), 0u);  // order-0 list: {1}
  model_.pages().CorruptFreeListForTesting(kZoneNormal, 0);
  EXPECT_DEATH(model_.AuditFull(),
               "RESERVOIR BUG: buddy-corruption: [a-z0-9_./-]+\nRESERVOIR DETAIL: zone Normal order 0: nr_free says "
               "2 blocks but the list has 1");
}

// ---------------------------------------------------------------------------
// slab-corruption

TEST_F(ReportDeathTest, SlabCorruption) {
  void* object = model_.Kmalloc(64, KernelCtx());
  const Pfn head = SlabHeadOf(model_, object);
  model_.slab().CorruptInuseForTesting(head, 1);
  EXPECT_DEATH(model_.AuditFull(),
               "RESERVOIR BUG: slab-corruption: [a-z0-9_./-]+\nRESERVOIR DETAIL: cache kmalloc-64 slab pfn [0-9]+: "
               "inuse 2 but 1 objects are handed out");
  // The cheap audit (no bitmap count) sees a count out of range on the next
  // operation on that slab.
  model_.slab().CorruptInuseForTesting(head, 100);
  EXPECT_DEATH(model_.Kmalloc(64, KernelCtx()),
               "RESERVOIR BUG: slab-corruption: [a-z0-9_./-]+\nRESERVOIR DETAIL: cache kmalloc-64 slab pfn "
               "[0-9]+: inuse 10[0-9] of 64 objects");
}

// ---------------------------------------------------------------------------
// stale-pfmemalloc

TEST_F(ReportDeathTest, StalePfmemallocOnAPage) {
  const Pfn pfn = model_.AllocPages(0, KernelCtx());
  model_.pages().SetTagForTesting(pfn);
  EXPECT_DEATH(model_.AuditFull(),
               "RESERVOIR BUG: stale-pfmemalloc: [a-z0-9_./-]+\nRESERVOIR DETAIL: allocated pfn [0-9]+ order 0 is "
               "tagged pfmemalloc but was not allocated through NO_WATERMARKS");
}

TEST_F(ReportDeathTest, StalePfmemallocSlabAndPageDisagree) {
  void* object = model_.Kmalloc(64, KernelCtx());
  model_.slab().TagSlabForTesting(SlabHeadOf(model_, object));
  EXPECT_DEATH(model_.AuditFull(),
               "RESERVOIR BUG: stale-pfmemalloc: [a-z0-9_./-]+\nRESERVOIR DETAIL: cache kmalloc-64 slab pfn [0-9]+: "
               "slab tag 1 but page tag 0");
}

// ---------------------------------------------------------------------------
// invalid-free (misuse)

TEST_F(ReportDeathTest, InvalidFreeWrongOrder) {
  const Pfn pfn = model_.AllocPages(2, KernelCtx());
  EXPECT_DEATH(model_.FreePages(pfn, 3), "RESERVOIR BUG: invalid-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: ");
}

TEST_F(ReportDeathTest, InvalidFreeInteriorPointer) {
  uint8_t* object = static_cast<uint8_t*>(model_.Kmalloc(64, KernelCtx()));
  EXPECT_DEATH(model_.Kfree(object + 8),
               "RESERVOIR BUG: invalid-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: kfree\\(0x[0-9a-f]+\\): interior pointer "
               "into kmalloc-64 \\(offset 8, object size 64\\)");
  uint8_t* large = static_cast<uint8_t*>(model_.Kmalloc(10000, KernelCtx()));
  EXPECT_DEATH(model_.Kfree(large + kPageSize),
               "RESERVOIR BUG: invalid-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: kfree\\(0x[0-9a-f]+\\): interior pointer "
               "into a large kmalloc block");
}

TEST_F(ReportDeathTest, InvalidFreeWrongCache) {
  KmemCache* a = model_.KmemCacheCreate("cache-a", 64, 8);
  KmemCache* b = model_.KmemCacheCreate("cache-b", 64, 8);
  void* object = model_.KmemCacheAlloc(b, KernelCtx());
  EXPECT_DEATH(model_.KmemCacheFree(a, object),
               "RESERVOIR BUG: invalid-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: kmem_cache_free\\(cache-a, 0x[0-9a-f]+\\): "
               "the object belongs to cache cache-b");
  void* kmalloced = model_.Kmalloc(64, KernelCtx());
  EXPECT_DEATH(model_.KmemCacheFree(a, kmalloced),
               "RESERVOIR BUG: invalid-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: .*belongs to cache kmalloc-64");
}

TEST_F(ReportDeathTest, InvalidFreeNotAModelAddress) {
  static uint64_t not_ours[8];
  EXPECT_DEATH(model_.Kfree(not_ours),
               "RESERVOIR BUG: invalid-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: kfree\\(0x[0-9a-f]+\\): not a model address");
  KmemCache* cache = model_.KmemCacheCreate("c", 64, 8);
  EXPECT_DEATH(model_.KmemCacheFree(cache, not_ours),
               "RESERVOIR BUG: invalid-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: kmem_cache_free\\(0x[0-9a-f]+\\): not a "
               "model address");
}

TEST_F(ReportDeathTest, InvalidFreeKfreeOfPages) {
  const Pfn pfn = model_.AllocPages(0, KernelCtx());
  EXPECT_DEATH(model_.Kfree(model_.pages().PageAddress(pfn)),
               "RESERVOIR BUG: invalid-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: kfree\\(0x[0-9a-f]+\\): the block at pfn "
               "[0-9]+ came from alloc_pages, not kmalloc");
}

// ---------------------------------------------------------------------------
// double-free (misuse)

TEST_F(ReportDeathTest, DoubleFreePages) {
  const Pfn pfn = model_.AllocPages(0, KernelCtx());
  model_.FreePages(pfn, 0);
  EXPECT_DEATH(model_.FreePages(pfn, 0),
               "RESERVOIR BUG: double-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: free_pages of pfn [0-9]+ order 0: the "
               "page is already free");
}

TEST_F(ReportDeathTest, DoubleFreeKmalloc) {
  void* object = model_.Kmalloc(64, KernelCtx());
  void* other = model_.Kmalloc(64, KernelCtx());  // keeps the slab alive
  ASSERT_NE(other, nullptr);
  model_.Kfree(object);
  EXPECT_DEATH(model_.Kfree(object),
               "RESERVOIR BUG: double-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: kfree\\(0x[0-9a-f]+\\): object 0 of a "
               "kmalloc-64 slab is already free");
}

TEST_F(ReportDeathTest, DoubleFreeCacheObject) {
  KmemCache* cache = model_.KmemCacheCreate("objs", 200, 8);
  void* object = model_.KmemCacheAlloc(cache, KernelCtx());
  model_.KmemCacheFree(cache, object);
  EXPECT_DEATH(model_.KmemCacheFree(cache, object),
               "RESERVOIR BUG: double-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: kmem_cache_free\\(0x[0-9a-f]+\\): object 0 "
               "of a objs slab is already free");
}

TEST_F(ReportDeathTest, DoubleFreeAfterTheSlabIsGone) {
  void* object = model_.Kmalloc(64, KernelCtx());
  model_.Kfree(object);
  model_.slab().ShrinkAll();  // the empty slab goes back to the page allocator
  EXPECT_DEATH(model_.Kfree(object),
               "RESERVOIR BUG: double-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: kfree\\(0x[0-9a-f]+\\): the memory is not "
               "allocated");
}

TEST_F(ReportDeathTest, DoubleFreeLargeKmalloc) {
  void* object = model_.Kmalloc(10000, KernelCtx());
  model_.Kfree(object);
  EXPECT_DEATH(model_.Kfree(object), "RESERVOIR BUG: double-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: ");
}

// ---------------------------------------------------------------------------
// page-conservation

TEST_F(ReportDeathTest, PageConservationMoreFreeThanManaged) {
  model_.pages().CorruptFreeCountForTesting(kZoneNormal, 1);
  EXPECT_DEATH(model_.AuditFull(),
               "RESERVOIR BUG: page-conservation: [a-z0-9_./-]+\nRESERVOIR DETAIL: zone Normal has 513 free pages "
               "of 512 managed");
}

TEST_F(ReportDeathTest, PageConservationCountDisagreesWithBlocks) {
  ASSERT_NE(model_.AllocPages(3, KernelCtx()), kNoPfn);
  model_.pages().CorruptFreeCountForTesting(kZoneNormal, 1);
  EXPECT_DEATH(model_.AuditFull(),
               "RESERVOIR BUG: page-conservation: [a-z0-9_./-]+\nRESERVOIR DETAIL: zone Normal: free_pages 505 but the "
               "free blocks hold 504 pages");
}

// ---------------------------------------------------------------------------
// The report machinery.

TEST(ReportNameTest, EveryClassRoundTrips) {
  const char* const expected[] = {
      "reserve-leak",      "slab-mixing",      "accounting-imbalance",
      "guarantee-violation", "watermark-breach", "buddy-corruption",
      "slab-corruption",   "stale-pfmemalloc", "invalid-free",
      "double-free",       "page-conservation", "adapter-contract",
      "divergence",
  };
  ASSERT_EQ(kBugClassCount, 13);
  for (int i = 0; i < kBugClassCount; ++i) {
    const BugClass bug_class = static_cast<BugClass>(i);
    EXPECT_STREQ(BugClassName(bug_class), expected[i]);
    BugClass parsed = BugClass::kCount;
    ASSERT_TRUE(ParseBugClass(expected[i], &parsed)) << expected[i];
    EXPECT_EQ(parsed, bug_class);
  }
  BugClass untouched = BugClass::kDoubleFree;
  EXPECT_FALSE(ParseBugClass("double free", &untouched));
  EXPECT_FALSE(ParseBugClass("", &untouched));
  EXPECT_FALSE(ParseBugClass("Double-Free", &untouched));
  EXPECT_EQ(untouched, BugClass::kDoubleFree);
  EXPECT_STREQ(BugClassName(BugClass::kCount), "unknown");
  EXPECT_STREQ(BugClassName(static_cast<BugClass>(-1)), "unknown");
}

void PrintSection(FILE* out, void* arg) {
  std::fprintf(out, "== %s ==\n", static_cast<const char*>(arg));
}

char g_first_label[] = "section one";
char g_second_label[] = "section two";

TEST_F(ReportDeathTest, ProviderSectionsArePrintedInOrder) {
  ASSERT_TRUE(RegisterReportProvider(PrintSection, g_first_label));
  ASSERT_TRUE(RegisterReportProvider(PrintSection, g_second_label));
  const Pfn pfn = model_.AllocPages(0, KernelCtx());
  model_.FreePages(pfn, 0);
  EXPECT_DEATH(model_.FreePages(pfn, 0),
               "RESERVOIR BUG: double-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: [^\n]*\n== section one ==\n== section two "
               "==\nEND OF RESERVOIR BUG REPORT");
  UnregisterReportProvider(PrintSection, g_first_label);
  EXPECT_DEATH(model_.FreePages(pfn, 0),
               "RESERVOIR BUG: double-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: [^\n]*\n== section two ==\nEND OF "
               "RESERVOIR BUG REPORT");
  UnregisterReportProvider(PrintSection, g_second_label);
  EXPECT_DEATH(model_.FreePages(pfn, 0),
               "RESERVOIR BUG: double-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: [^\n]*\nEND OF RESERVOIR BUG REPORT");
}

TEST(ReportProviderTest, TableHoldsAtMostEight) {
  static char labels[kMaxReportProviders + 1][8];
  for (int i = 0; i < kMaxReportProviders; ++i) {
    ASSERT_TRUE(RegisterReportProvider(PrintSection, labels[i])) << i;
  }
  EXPECT_FALSE(RegisterReportProvider(PrintSection, labels[kMaxReportProviders]));
  UnregisterReportProvider(PrintSection, labels[3]);
  EXPECT_TRUE(RegisterReportProvider(PrintSection, labels[kMaxReportProviders]));
  for (auto& label : labels) UnregisterReportProvider(PrintSection, label);
  EXPECT_TRUE(RegisterReportProvider(PrintSection, labels[0]));
  UnregisterReportProvider(PrintSection, labels[0]);
}

struct Reported {
  BugClass bug_class;
  std::string place;
  std::string line;
};

[[noreturn]] void ThrowReport(BugClass bug_class, const char* place,
                              const char* line) {
  throw Reported{bug_class, place, line};
}

TEST(ReportHandlerTest, HandlerSeesClassAndStableLine) {
  Model model(SmallConfig());
  const Pfn pfn = model.AllocPages(0, KernelCtx());
  model.FreePages(pfn, 0);
  SetReportHandlerForTesting(ThrowReport);
  bool reported = false;
  try {
    model.FreePages(pfn, 0);
  } catch (const Reported& report) {
    reported = true;
    EXPECT_EQ(report.bug_class, BugClass::kDoubleFree);
    EXPECT_EQ(report.place, "page.free_already_free");
    EXPECT_EQ(report.line.rfind("RESERVOIR BUG: double-free: page.free_already_free\n"
                                "RESERVOIR DETAIL: free_pages of pfn ", 0),
              0u)
        << report.line;
  }
  SetReportHandlerForTesting(nullptr);
  EXPECT_TRUE(reported);
}

}  // namespace
}  // namespace reservoir
