// Watermarks (__setup_per_zone_wmarks, setup_per_zone_lowmem_reserve) and
// the watermark test (__zone_watermark_ok) of mm/page_alloc.c.
#include "reservoir/zone.h"

#include "reservoir/plant.h"

#include <algorithm>
#include <cmath>

namespace reservoir {

const char* ZoneName(int zone_index) {
  return zone_index == kZoneHighmem ? "HighMem" : "Normal";
}

int64_t DefaultMinFreeKbytes(uint64_t lowmem_kbytes) {
  // init_per_zone_wmark_min(): int_sqrt(lowmem_kbytes * 16), clamped.
  int64_t kbytes = static_cast<int64_t>(
      std::sqrt(static_cast<double>(lowmem_kbytes) * 16.0));
  return std::clamp<int64_t>(kbytes, 128, 262144);
}

void SetupZoneWatermarks(Zone* zones, int nr_zones, int64_t min_free_kbytes,
                         int watermark_scale_factor,
                         int lowmem_reserve_ratio) {
  uint64_t lowmem_pages = 0;
  for (int i = 0; i < nr_zones; ++i) {
    if (zones[i].index != kZoneHighmem) lowmem_pages += zones[i].managed_pages;
  }
  if (min_free_kbytes < 0) {
    min_free_kbytes = DefaultMinFreeKbytes(lowmem_pages * (kPageSize / 1024));
  }
  const uint64_t pages_min =
      static_cast<uint64_t>(min_free_kbytes) >> (kPageShift - 10);

  for (int i = 0; i < nr_zones; ++i) {
    Zone& zone = zones[i];
    uint64_t tmp = lowmem_pages == 0
                       ? 0
                       : pages_min * zone.managed_pages / lowmem_pages;
    if (zone.index == kZoneHighmem) {
      // Highmem needs only a token min: it is never used for kernel
      // allocations that must not fail. Only min is capped: the low and
      // high distances below still scale with tmp, as in the kernel
      // ("should not be capped for highmem and movable zones").
      zone.watermark[kAllocWmarkMin] =
          std::clamp<uint64_t>(zone.managed_pages / 1024, 32, 128);
    } else {
      zone.watermark[kAllocWmarkMin] = tmp;
    }
    const uint64_t scaled =
        uint64_t{zone.managed_pages} * watermark_scale_factor / 10000;
    tmp = std::max(tmp >> 2, scaled);
    zone.watermark[kAllocWmarkLow] = zone.watermark[kAllocWmarkMin] + tmp;
    zone.watermark[kAllocWmarkHigh] = zone.watermark[kAllocWmarkMin] + 2 * tmp;
  }

  // lowmem_reserve[j] of a lower zone: the managed pages of the zones above
  // it up to j, divided by the ratio. Only NORMAL below HIGHMEM here.
  for (int i = 0; i < nr_zones; ++i) {
    for (int j = 0; j < kMaxZones; ++j) zones[i].lowmem_reserve[j] = 0;
  }
  if (nr_zones == 2) {
    zones[kZoneNormal].lowmem_reserve[kZoneHighmem] =
        zones[kZoneHighmem].managed_pages / lowmem_reserve_ratio;
  }
}

bool ZoneWatermarkOk(const Zone& zone, int order, uint64_t mark, int classzone,
                     uint32_t alloc_flags, int max_order) {
  int64_t min = static_cast<int64_t>(mark);
  // PLANT(strict_reserve_in_min): the strict reserve is folded into the
  // watermark before the relaxations, as the first emergency-pool patches of
  // the swap-over-network series did (adjust_memalloc_reserve() raised
  // min_free_kbytes, i.e. pages_min, by the reserve): __GFP_HIGH halves it
  // and an atomic request takes a further quarter, so unentitled requests
  // eat into the reserve. Caught by the cheap audit's watermark-breach check
  // (free + reserve pages in use < pages_emerg).
  if (RESERVOIR_PLANTED(strict_reserve_in_min)) {
    min += static_cast<int64_t>(zone.pages_emerg);
  }
  // free_pages counts the pages of the request itself except one.
  const int64_t free_pages =
      static_cast<int64_t>(zone.free_pages) - ((int64_t{1} << order) - 1);
  if (alloc_flags & kAllocHigh) {
    min -= min / 2;
    // Non-blocking high-priority requests (GFP_ATOMIC) get further.
    if (alloc_flags & kAllocNonBlock) min -= min / 4;
  }
  if (alloc_flags & kAllocOom) min -= min / 2;
  // The strict reserve is added after every relaxation: no gfp flag
  // reaches it. Only ALLOC_NO_WATERMARKS (which skips this test) does.
  int64_t floor = min + static_cast<int64_t>(zone.lowmem_reserve[classzone]);
  // PLANT(strict_reserve_in_min): already in min, relaxed with it.
  if (!RESERVOIR_PLANTED(strict_reserve_in_min)) {
    floor += static_cast<int64_t>(zone.pages_emerg);
  }
  if (free_pages <= floor) return false;
  if (order == 0) return true;
  // For higher orders a suitable block must exist at all.
  for (int o = order; o <= max_order; ++o) {
    if (zone.free_area[o].nr_free > 0) return true;
  }
  return false;
}

}  // namespace reservoir
