// The read-only views of ReservoirModel that the request-level oracle
// takes around every allocation call (allocation_oracle.cc): the zone
// levels before the call, the page counters after it, the block of an
// object. They copy model state and branch only on the model's shape
// (zones, orders) and on the frame's kind, which the allocator's own
// instrumented code already tells apart, so this file is built like the
// oracle files: sanitized, not coverage-instrumented (CMakeLists.txt).
#include "reservoir/exec/reservoir_model.h"

namespace reservoir::exec {

bool ReservoirModel::ReadLevels(LevelsView* out) const {
  const PageAllocator& pages = model_.pages();
  const int max_order = pages.max_order();
  out->nr_zones = pages.nr_zones();
  out->max_order = max_order;
  for (int z = 0; z < pages.nr_zones(); ++z) {
    const Zone& zone = pages.zone(z);
    ZoneView& view = out->zone[z];
    view.start = zone.start_pfn;
    view.managed = zone.managed_pages;
    view.free = zone.free_pages;
    for (int i = 0; i < 3; ++i) view.watermark[i] = zone.watermark[i];
    for (int i = 0; i < kMaxZones; ++i) view.lowmem_reserve[i] = zone.lowmem_reserve[i];
    view.pages_emerg = zone.pages_emerg;
    view.pfmemalloc = zone.pfmemalloc_pages;
    // Every order of the array (a fixed count the compiler unrolls), then
    // orders 0..max_order only: no bit above it (watermark_judge.cc).
    uint32_t free_orders = 0;
    for (int o = 0; o <= kMaxOrderLimit; ++o) {
      free_orders |= static_cast<uint32_t>(zone.free_area[o].nr_free != 0) << o;
    }
    view.free_orders = free_orders & ((uint32_t{2} << max_order) - 1);
  }
  out->page_allocs = pages.stats().alloc_ok;
  out->page_frees = pages.stats().frees;
  return true;
}

bool ReservoirModel::ReadPageCounters(uint64_t* page_allocs,
                                      uint64_t* page_frees) const {
  *page_allocs = model_.pages().stats().alloc_ok;
  *page_frees = model_.pages().stats().frees;
  return true;
}

bool ReservoirModel::BlockOf(const void* object, BlockView* out) const {
  const Pfn head = model_.pages().AllocatedHeadOf(object);
  if (head == kNoPfn) return false;
  const PageFrame& frame = model_.pages().frame(head);
  out->head = head;
  out->slab = frame.flags & kPageSlab;
  out->order = out->slab ? model_.slab().slab(head).order : frame.order;
  out->tagged = out->slab ? model_.slab().slab(head).pfmemalloc
                          : (frame.flags & kPagePfmemalloc) != 0;
  return true;
}

}  // namespace reservoir::exec
