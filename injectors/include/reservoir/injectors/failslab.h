// failslab (mm/failslab.c): the capability filters of the two slab sites.
// Reservoir splits the kernel's one failslab into two sites with the same
// knobs and separate counters:
//   failslab           FaultSite::kSlabObject, one object allocation (the
//                      kernel's failslab, slab_pre_alloc_hook);
//   failslab_new_slab  FaultSite::kSlabNewSlab, a new slab page for a cache
//                      (in the kernel that page reaches fail_page_alloc).
// Separate counters keep failslab's interval and space counting exactly
// the kernel's (objects only).
#pragma once

#include <cstdint>

#include "reservoir/fault_site.h"
#include "reservoir/gfp.h"
#include "reservoir/injectors/name_list.h"

namespace reservoir::injectors {

struct SlabFilter {
  bool ignore_gfp_wait = true;  // kernel default: blocking requests ignored
  // Only these caches may fail; empty = every cache. The kernel marks
  // caches with /sys/kernel/slab/<cache>/failslab and a cache-filter bool;
  // here the list is the configuration.
  NameList cache_filter;

  friend bool operator==(const SlabFilter&, const SlabFilter&) = default;
};

inline bool SlabCallIsExempt(const SlabFilter& filter, const FaultCall& call) {
  if (call.gfp & kGfpNoFail) return true;
  if (filter.ignore_gfp_wait && (call.gfp & kGfpDirectReclaim)) return true;
  if (!filter.cache_filter.empty() && !filter.cache_filter.Contains(call.cache))
    return true;
  return false;
}

// failslab spends the object's bytes (the kernel: the cache's object_size;
// here the size the model reports for the call); failslab_new_slab spends
// pages, 1 << order, like fail_page_alloc.
inline uint64_t SlabCallSize(const FaultCall& call) {
  if (call.site == FaultSite::kSlabNewSlab) {
    return call.order >= 0 && call.order < 64 ? uint64_t{1} << call.order : 0;
  }
  return call.size;
}

}  // namespace reservoir::injectors
