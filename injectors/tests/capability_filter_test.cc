// The capability filters of each site (fail_page_alloc, failslab,
// failslab_new_slab, the reserve sites), run through the injector so the
// "filtered" statistics and the fail_nth / space bookkeeping are visible.
#include <vector>

#include "fault_calls.h"
#include "gtest/gtest.h"
#include "reservoir/injectors/fault_config_syntax.h"
#include "reservoir/injectors/fault_injector.h"

namespace reservoir::injectors {
namespace {

using testing::ChargeCall;
using testing::NewSlabCall;
using testing::PageCall;
using testing::ReserveSetCall;
using testing::SlabObjectCall;

FaultConfig Config(const char* text) {
  absl::StatusOr<FaultConfig> config = ParseFaultConfig(text);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : FaultConfig();
}

// Every site fails every eligible call, quietly.
constexpr char kAlways[] =
    "verbose=0;fail_page_alloc=1,100,0,-1;failslab=1,100,0,-1;"
    "failslab_new_slab=1,100,0,-1;fail_reserve_charge=1,100,0,-1;"
    "fail_reserve_set=1,100,0,-1";

TEST(PageAllocFilterTest, KernelDefaultsLeaveOrderZeroBlockingAndHighmemAlone) {
  FaultInjector injector(Config(kAlways));
  EXPECT_FALSE(injector.ShouldFail(PageCall(0, kGfpAtomic)));  // min-order 1
  EXPECT_FALSE(injector.ShouldFail(PageCall(1, kGfpKernel)));  // may block
  EXPECT_FALSE(injector.ShouldFail(PageCall(1, kGfpAtomic | kGfpHighmem)));
  EXPECT_FALSE(injector.ShouldFail(PageCall(3, kGfpAtomic | kGfpNoFail)));
  EXPECT_TRUE(injector.ShouldFail(PageCall(1, kGfpAtomic)));
  const SiteStatistics& stats =
      injector.statistics().site(FaultSite::kPageAlloc);
  EXPECT_EQ(stats.filtered, 4u);
  EXPECT_EQ(stats.eligible, 1u);
  EXPECT_EQ(stats.injected, 1u);
}

TEST(PageAllocFilterTest, MinOrder) {
  FaultInjector injector(
      Config((std::string(kAlways) + ";fail_page_alloc.min-order=3").c_str()));
  EXPECT_FALSE(injector.ShouldFail(PageCall(2)));
  EXPECT_TRUE(injector.ShouldFail(PageCall(3)));
  EXPECT_TRUE(injector.ShouldFail(PageCall(10)));
  injector.Configure(
      Config((std::string(kAlways) + ";fail_page_alloc.min-order=0").c_str()));
  EXPECT_TRUE(injector.ShouldFail(PageCall(0)));
}

TEST(PageAllocFilterTest, IgnoreGfpWaitOff) {
  FaultInjector injector(Config(
      (std::string(kAlways) + ";fail_page_alloc.ignore-gfp-wait=0").c_str()));
  EXPECT_TRUE(injector.ShouldFail(PageCall(1, kGfpKernel)));
  EXPECT_FALSE(injector.ShouldFail(PageCall(1, kGfpKernel | kGfpHighmem)));
}

TEST(PageAllocFilterTest, IgnoreGfpHighmemOff) {
  FaultInjector injector(
      Config((std::string(kAlways) + ";fail_page_alloc.ignore-gfp-highmem=N")
                 .c_str()));
  EXPECT_TRUE(injector.ShouldFail(PageCall(1, kGfpAtomic | kGfpHighmem)));
  EXPECT_FALSE(injector.ShouldFail(PageCall(1, kGfpKernel | kGfpHighmem)));
}

TEST(PageAllocFilterTest, NoFailIsExemptWhateverTheKnobs) {
  FaultInjector injector(
      Config((std::string(kAlways) +
              ";fail_page_alloc.min-order=0;fail_page_alloc.ignore-gfp-wait=0;"
              "fail_page_alloc.ignore-gfp-highmem=0;fail-nth=1")
                 .c_str()));
  EXPECT_FALSE(injector.ShouldFail(PageCall(0, kGfpNoFail)));
  EXPECT_FALSE(injector.ShouldFail(PageCall(0, kGfpKernel | kGfpNoFail)));
  EXPECT_EQ(injector.fail_nth_remaining(), 1u);  // not counted
}

TEST(SlabFilterTest, CacheFilterOnlyFailsListedCaches) {
  FaultInjector injector(
      Config((std::string(kAlways) + ";failslab.cache-filter=kmalloc-96,skbuff")
                 .c_str()));
  EXPECT_FALSE(injector.ShouldFail(SlabObjectCall("kmalloc-64", 64)));
  EXPECT_FALSE(injector.ShouldFail(SlabObjectCall(nullptr, 64)));
  EXPECT_TRUE(injector.ShouldFail(SlabObjectCall("kmalloc-96", 96)));
  EXPECT_TRUE(injector.ShouldFail(SlabObjectCall("skbuff", 200)));
  EXPECT_EQ(injector.statistics().site(FaultSite::kSlabObject).filtered, 2u);
}

TEST(SlabFilterTest, IgnoreGfpWaitAndNoFail) {
  FaultInjector injector(Config(kAlways));
  EXPECT_FALSE(
      injector.ShouldFail(SlabObjectCall("kmalloc-64", 64, kGfpKernel)));
  EXPECT_FALSE(injector.ShouldFail(
      SlabObjectCall("kmalloc-64", 64, kGfpAtomic | kGfpNoFail)));
  EXPECT_TRUE(
      injector.ShouldFail(SlabObjectCall("kmalloc-64", 64, kGfpAtomic)));
  injector.Configure(
      Config((std::string(kAlways) + ";failslab.ignore-gfp-wait=0").c_str()));
  EXPECT_TRUE(
      injector.ShouldFail(SlabObjectCall("kmalloc-64", 64, kGfpKernel)));
  EXPECT_FALSE(injector.ShouldFail(
      SlabObjectCall("kmalloc-64", 64, kGfpKernel | kGfpNoFail)));
}

TEST(SlabFilterTest, NewSlabSiteHasTheSameKnobsAndItsOwnSettings) {
  FaultInjector injector(
      Config("verbose=0;failslab=1,100,0,-1;failslab_new_slab=1,100,0,-1;"
             "failslab_new_slab.cache-filter=kmalloc-96"));
  EXPECT_TRUE(injector.ShouldFail(SlabObjectCall("kmalloc-64", 64)));
  EXPECT_FALSE(injector.ShouldFail(NewSlabCall("kmalloc-64", 0)));
  EXPECT_TRUE(injector.ShouldFail(NewSlabCall("kmalloc-96", 0)));
  EXPECT_FALSE(injector.ShouldFail(NewSlabCall("kmalloc-96", 0, kGfpKernel)));
}

TEST(SlabFilterTest, NewSlabSpendsPagesAndObjectsSpendBytes) {
  FaultInjector injector(
      Config("verbose=0;failslab=1,100,100,-1;failslab_new_slab=1,100,5,-1"));
  // Objects: 100 > 60 -> 40 left, pass; 40 > 60 is false -> fail.
  EXPECT_FALSE(injector.ShouldFail(SlabObjectCall("c", 60)));
  EXPECT_TRUE(injector.ShouldFail(SlabObjectCall("c", 60)));
  // New slabs: order 2 is 4 pages: 5 > 4 -> 1 left, pass; then fail.
  EXPECT_FALSE(injector.ShouldFail(NewSlabCall("c", 2)));
  EXPECT_TRUE(injector.ShouldFail(NewSlabCall("c", 2)));
}

TEST(ReserveFilterTest, ReserveFilterAndNoFail) {
  FaultInjector injector(
      Config((std::string(kAlways) + ";fail_reserve_charge.reserve-filter=net;"
                                     "fail_reserve_set.reserve-filter=swap")
                 .c_str()));
  EXPECT_FALSE(injector.ShouldFail(ChargeCall("swap", 10)));
  EXPECT_FALSE(injector.ShouldFail(ChargeCall(nullptr, 10)));
  EXPECT_TRUE(injector.ShouldFail(ChargeCall("net", 10)));
  EXPECT_FALSE(injector.ShouldFail(ReserveSetCall("net", 4096)));
  EXPECT_TRUE(injector.ShouldFail(ReserveSetCall("swap", 4096)));
  FaultCall nofail = ChargeCall("net", 10);
  nofail.gfp = kGfpNoFail;
  EXPECT_FALSE(injector.ShouldFail(nofail));
}

TEST(ReserveFilterTest, NoFilterMeansEveryNode) {
  FaultInjector injector(Config(kAlways));
  EXPECT_TRUE(injector.ShouldFail(ChargeCall("anything", 1)));
  EXPECT_TRUE(injector.ShouldFail(ReserveSetCall(nullptr, 1)));
}

TEST(CapabilityFilterTest, FilteredCallsDoNotCountTowardFailNth) {
  // fail-nth=3 with probability 0 everywhere: raw calls are
  //   1 eligible, 2 filtered (order 0), 3 eligible (slab), 4 filtered
  //   (GFP_KERNEL), 5 eligible -> the third eligible call fails.
  FaultInjector injector(Config("verbose=0;fail-nth=3"));
  std::vector<bool> failed;
  failed.push_back(injector.ShouldFail(PageCall(1)));
  failed.push_back(injector.ShouldFail(PageCall(0)));
  failed.push_back(injector.ShouldFail(SlabObjectCall("c", 8)));
  failed.push_back(injector.ShouldFail(SlabObjectCall("c", 8, kGfpKernel)));
  failed.push_back(injector.ShouldFail(ChargeCall("r", 8)));
  failed.push_back(injector.ShouldFail(ChargeCall("r", 8)));
  EXPECT_EQ(failed,
            (std::vector<bool>{false, false, false, false, true, false}));
  EXPECT_EQ(injector.context_calls(), 4u);
  ASSERT_NE(injector.log().newest(), nullptr);
  EXPECT_EQ(injector.log().newest()->cause, FaultCause::kFailNth);
  EXPECT_EQ(injector.log().newest()->context_call, 3u);
  EXPECT_EQ(injector.log().newest()->site_call, 1u);
}

TEST(CapabilityFilterTest, FilteredCallsDoNotSpendSpace) {
  // space 3 pages: three filtered order-0 calls would have spent it all.
  // Then order 1 (2 pages): 3 > 2 -> 1 left, pass; order 1 again: fail.
  FaultInjector injector(Config("verbose=0;fail_page_alloc=1,100,3,-1"));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(injector.ShouldFail(PageCall(0)));
  EXPECT_FALSE(injector.ShouldFail(PageCall(1)));
  EXPECT_TRUE(injector.ShouldFail(PageCall(1)));
}

TEST(CapabilityFilterTest, FilteredCallsDoNotAdvanceTheInterval) {
  FaultInjector injector(Config("verbose=0;failslab=2,100,0,-1"));
  EXPECT_FALSE(injector.ShouldFail(SlabObjectCall("c", 8)));  // count 1
  EXPECT_FALSE(
      injector.ShouldFail(SlabObjectCall("c", 8, kGfpKernel)));  // filtered
  EXPECT_TRUE(injector.ShouldFail(SlabObjectCall("c", 8)));      // count 2
}

}  // namespace
}  // namespace reservoir::injectors
