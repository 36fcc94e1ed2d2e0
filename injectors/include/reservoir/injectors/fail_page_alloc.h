// fail_page_alloc (mm/fail_page_alloc.c): the capability filters of the page
// allocator's site. Defaults are the kernel's: min-order 1, blocking and
// highmem requests ignored, so a plain config fails only atomic,
// non-highmem, order >= 1 allocations.
#pragma once

#include <cstdint>

#include "reservoir/fault_site.h"
#include "reservoir/gfp.h"

namespace reservoir::injectors {

struct PageAllocFilter {
  int min_order = 1;               // orders below this are never failed
  bool ignore_gfp_wait = true;     // leave requests that may block alone
  bool ignore_gfp_highmem = true;  // leave __GFP_HIGHMEM requests alone

  friend bool operator==(const PageAllocFilter&,
                         const PageAllocFilter&) = default;
};

// True when the call is not eligible: NOFAIL, below min-order, or ignored
// by its gfp. Such calls count as "filtered" and consume nothing.
inline bool PageAllocCallIsExempt(const PageAllocFilter& filter,
                                  const FaultCall& call) {
  if (call.order < filter.min_order) return true;
  if (call.gfp & kGfpNoFail) return true;
  if (filter.ignore_gfp_highmem && (call.gfp & kGfpHighmem)) return true;
  if (filter.ignore_gfp_wait && (call.gfp & kGfpDirectReclaim)) return true;
  return false;
}

// What a page allocation spends from `space`: 1 << order, i.e. pages, as
// the kernel passes to should_fail_ex (not bytes, whatever the docs say).
inline uint64_t PageAllocCallSize(const FaultCall& call) {
  return call.order >= 0 && call.order < 64 ? uint64_t{1} << call.order : 0;
}

}  // namespace reservoir::injectors
