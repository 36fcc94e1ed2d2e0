// struct zone: a contiguous range of page frames with its buddy free areas
// and watermarks, plus the watermark arithmetic of mm/page_alloc.c.
#pragma once

#include <cstdint>

#include "reservoir/gfp.h"
#include "reservoir/page_frame.h"

namespace reservoir {

enum ZoneIndex : uint8_t { kZoneNormal = 0, kZoneHighmem = 1, kMaxZones = 2 };
const char* ZoneName(int zone_index);

struct FreeArea {
  Pfn head = kNoPfn;    // doubly linked through PageFrame::next/prev
  uint64_t nr_free = 0; // blocks of this order, including untouched ones
};

// alloc_flags, as in mm/internal.h, for the bits the model uses.
enum AllocFlag : uint32_t {
  kAllocWmarkMin = 0,
  kAllocWmarkLow = 1,
  kAllocWmarkHigh = 2,
  kAllocWmarkMask = 3,
  kAllocNoWatermarks = 1u << 2,
  kAllocHigh = 1u << 3,      // ALLOC_MIN_RESERVE: __GFP_HIGH
  kAllocNonBlock = 1u << 4,  // ALLOC_NON_BLOCK: atomic, may not reclaim
  kAllocOom = 1u << 5,       // ALLOC_OOM
};

struct Zone {
  uint8_t index = 0;
  Pfn start_pfn = 0;
  uint32_t managed_pages = 0;
  uint64_t free_pages = 0;
  uint64_t watermark[3] = {0, 0, 0};  // min, low, high
  // lowmem_reserve[classzone]: pages this zone keeps back from requests
  // that could have been served from a higher zone.
  uint64_t lowmem_reserve[kMaxZones] = {0, 0};
  // The strict reserve held in this zone: reachable only with
  // ALLOC_NO_WATERMARKS (Zijlstra's pages_emerg).
  uint64_t pages_emerg = 0;
  // Live pages of this zone tagged pfmemalloc. Unentitled allocations keep
  // free_pages >= pages_emerg, so free_pages + pfmemalloc_pages >=
  // pages_emerg always holds: the cheap watermark-breach check.
  uint64_t pfmemalloc_pages = 0;
  FreeArea free_area[kMaxOrderLimit + 1];
  // Lazy initialisation: max-order blocks at or after `untouched_pfn` have
  // never been handed out since the last reset; they are free but not on
  // the free list, so a reset only has to redo [start_pfn, untouched_pfn).
  Pfn untouched_pfn = 0;

  Pfn end_pfn() const { return start_pfn + managed_pages; }
  bool Contains(Pfn pfn) const { return pfn >= start_pfn && pfn < end_pfn(); }
};

// __setup_per_zone_wmarks() for the model's zones. `min_free_kbytes` < 0
// derives the kernel's default.
void SetupZoneWatermarks(Zone* zones, int nr_zones, int64_t min_free_kbytes,
                         int watermark_scale_factor, int lowmem_reserve_ratio);

// The kernel's default min_free_kbytes for `lowmem_kbytes` of low memory.
int64_t DefaultMinFreeKbytes(uint64_t lowmem_kbytes);

// __zone_watermark_ok(): may an allocation of `order` with `alloc_flags`
// take pages from `zone` when the request's highest usable zone is
// `classzone`? The strict reserve is never reachable from here: only
// kAllocNoWatermarks (checked by the caller) skips this test.
bool ZoneWatermarkOk(const Zone& zone, int order, uint64_t mark, int classzone,
                     uint32_t alloc_flags, int max_order);

}  // namespace reservoir
