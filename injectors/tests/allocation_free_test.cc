// The decision path runs on every allocation of the model: it must never
// allocate. This binary replaces the global operator new to count.
#include <cstdlib>
#include <new>

#include "fault_calls.h"
#include "gtest/gtest.h"
#include "reservoir/injectors/fault_config_syntax.h"
#include "reservoir/injectors/fault_injector.h"

namespace {
long g_allocations = 0;
}  // namespace

void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace reservoir::injectors {
namespace {

using testing::ChargeCall;
using testing::NewSlabCall;
using testing::PageCall;
using testing::ReserveSetCall;
using testing::SlabObjectCall;

TEST(AllocationFreeTest, ShouldFailAndResetNeverAllocate) {
  absl::StatusOr<FaultConfig> config = ParseFaultConfig(
      "seed=1;fail-nth=5;verbose=0;times=-1;probability=50;"
      "fail_page_alloc.min-order=0;fail_page_alloc.require-caller=alloc_pages,"
      "x;"
      "failslab.cache-filter=kmalloc-64,kmalloc-96;failslab.mode=input;"
      "failslab_new_slab.reject-caller=kfree;failslab_new_slab.space=100;"
      "fail_reserve_charge.reserve-filter=net;fail_reserve_set.interval=3");
  ASSERT_TRUE(config.ok()) << config.status();
  FaultInjector injector(*config);
  const uint8_t bytes[] = {0x5a, 0xa5, 0x0f};
  InputDecisions decisions(bytes);
  injector.set_decision_source(&decisions);

  const long before = g_allocations;
  uint64_t failures = 0;
  for (int round = 0; round < 2000; ++round) {
    if (round % 500 == 0) {
      injector.Reset();
      decisions.Reset(bytes);
    }
    failures +=
        injector.ShouldFail(PageCall(round % 4, kGfpAtomic, "alloc_pages"));
    failures += injector.ShouldFail(SlabObjectCall("kmalloc-96", 96));
    failures += injector.ShouldFail(SlabObjectCall("kmalloc-8", 8));
    failures += injector.ShouldFail(NewSlabCall("kmalloc-96", 1));
    failures += injector.ShouldFail(ChargeCall("net", 96));
    failures += injector.ShouldFail(ReserveSetCall("swap", 4096));
    {
      ScopedFaultSuspension suspended(&injector);
      failures += injector.ShouldFail(PageCall(1));
    }
  }
  const long allocations = g_allocations - before;
  EXPECT_EQ(allocations, 0);
  EXPECT_GT(failures, 0u);
  // The log wrapped many times without allocating either.
  EXPECT_GT(injector.log().dropped(), 0u);
}

}  // namespace
}  // namespace reservoir::injectors
