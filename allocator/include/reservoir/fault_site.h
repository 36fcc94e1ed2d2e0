// Fault sites: the places where the model asks "should this call fail?".
// The allocator only exposes the sites; policies (probability, fail_nth,
// input-driven decisions) live in injectors/ and install themselves as a
// FaultHook. With no hook installed a site costs one null test.
#pragma once

#include <cstddef>
#include <cstdint>

#include "reservoir/gfp.h"

namespace reservoir {

enum class FaultSite : uint8_t {
  kPageAlloc,     // __alloc_pages (fail_page_alloc)
  kSlabNewSlab,   // allocate_slab: a new slab page for a cache (failslab)
  kSlabObject,    // slab_pre_alloc_hook: one object allocation (failslab)
  kReserveCharge, // a charge against a reserve node
  kReserveSet,    // a change of a reserve node's size
  kCount,
};

inline constexpr int kFaultSiteCount = static_cast<int>(FaultSite::kCount);

// Stable names, used in configuration, logs and reports.
constexpr const char* FaultSiteName(FaultSite site) {
  switch (site) {
    case FaultSite::kPageAlloc: return "page_alloc";
    case FaultSite::kSlabNewSlab: return "slab_new_slab";
    case FaultSite::kSlabObject: return "slab_object";
    case FaultSite::kReserveCharge: return "reserve_charge";
    case FaultSite::kReserveSet: return "reserve_set";
    case FaultSite::kCount: break;
  }
  return "unknown";
}

// Everything a policy may filter on. Fields that do not apply to a site are
// zero / null.
struct FaultCall {
  FaultSite site = FaultSite::kPageAlloc;
  Gfp gfp = 0;
  int order = 0;                  // page order (page_alloc, slab_new_slab)
  uint64_t size = 0;              // bytes asked for (object, charge, set)
  const char* cache = nullptr;    // kmem_cache name (slab sites)
  const char* reserve = nullptr;  // reserve node name (reserve sites)
  // The public model entry point that led here ("kmalloc",
  // "kmalloc_reserve", "alloc_pages", ...): what the kernel's stack-trace
  // filter would see, for the call-site require/reject filter.
  const char* call_site = nullptr;
  // The call runs in softirq (interrupt) context, so the kernel's in_task()
  // is false: the request's AllocContext::in_softirq. The task filter and
  // (when asked for) the fail-nth countdown skip such calls. Reserve sets
  // and direct charges are task-context administration: always false.
  bool in_softirq = false;
};

class FaultHook {
 public:
  virtual ~FaultHook() = default;
  // True when this call must fail. Called for every call that reaches the
  // site; the policy applies its own filters (NOFAIL, min-order, cache).
  virtual bool ShouldFail(const FaultCall& call) = 0;
};

}  // namespace reservoir
