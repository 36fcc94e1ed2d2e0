// The buddy allocator: __alloc_pages / __free_pages over a real arena.
#include "reservoir/page_allocator.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fast_path.h"
#include "reservoir/plant.h"
#include "reservoir/report.h"
#include "reservoir/unsteered.h"
#include "sanitizer.h"

namespace reservoir {

PageAllocator::PageAllocator(const ModelConfig& config, FaultGate* gate,
                             uint32_t capacity_pages)
    : gate_(gate), config_(config) {
  if (const char* problem = ValidateConfig(config)) {
    std::fprintf(stderr, "reservoir: bad model config: %s\n", problem);
    std::abort();
  }
  capacity_pages_ = std::max(capacity_pages,
                             config.normal_pages + config.highmem_pages);
  const size_t arena_bytes = static_cast<size_t>(capacity_pages_) << kPageShift;
  // Anonymous memory is faulted in lazily: an untouched arena costs nothing.
  void* arena = mmap(nullptr, arena_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (arena == MAP_FAILED) {
    std::fprintf(stderr, "reservoir: cannot map a %zu-byte arena\n",
                 arena_bytes);
    std::abort();
  }
  arena_ = static_cast<uint8_t*>(arena);
  frames_ = static_cast<PageFrame*>(
      std::malloc(static_cast<size_t>(capacity_pages_) * sizeof(PageFrame)));
  if (frames_ == nullptr) std::abort();
  for (Pfn pfn = 0; pfn < capacity_pages_; ++pfn) frames_[pfn] = PageFrame{};
  PoisonMemory(arena_, arena_bytes);
  SetupShape(config);
}

// Lays the zones of `config` over the arena. Every frame must be pristine.
void PageAllocator::SetupShape(const ModelConfig& config) {
  config_ = config;
  max_order_ = config.max_order;
  own_audit_.level = config.audit;
  nr_pages_ = config.normal_pages + config.highmem_pages;
  nr_zones_ = config.highmem_pages > 0 ? 2 : 1;
  zones_[kZoneNormal] = Zone{};
  zones_[kZoneHighmem] = Zone{};
  zones_[kZoneNormal].index = kZoneNormal;
  zones_[kZoneNormal].start_pfn = 0;
  zones_[kZoneNormal].managed_pages = config.normal_pages;
  zones_[kZoneNormal].untouched_pfn = 0;
  if (nr_zones_ == 2) {
    zones_[kZoneHighmem].index = kZoneHighmem;
    zones_[kZoneHighmem].start_pfn = config.normal_pages;
    zones_[kZoneHighmem].managed_pages = config.highmem_pages;
    zones_[kZoneHighmem].untouched_pfn = config.normal_pages;
  }
  for (int z = 0; z < nr_zones_; ++z) ResetZone(zones_[z]);
  strict_reserve_ = 0;
  stats_ = PageAllocatorStats{};
  SetupZoneWatermarks(zones_, nr_zones_, config.min_free_kbytes,
                      config.watermark_scale_factor,
                      config.lowmem_reserve_ratio);
}

PageAllocator::~PageAllocator() {
  const size_t arena_bytes = static_cast<size_t>(capacity_pages_) << kPageShift;
  UnpoisonForAllocator(arena_, arena_bytes);
  munmap(arena_, arena_bytes);
  std::free(frames_);
}

Pfn PageAllocator::AllocatedHeadOf(const void* address) const {
  return AllocatedHeadOfInline(address);
}

uint64_t PageAllocator::free_pages() const {
  uint64_t total = 0;
  for (int z = 0; z < nr_zones_; ++z) total += zones_[z].free_pages;
  return total;
}

uint64_t PageAllocator::pfmemalloc_pages() const {
  uint64_t total = 0;
  for (int z = 0; z < nr_zones_; ++z) total += zones_[z].pfmemalloc_pages;
  return total;
}

// ---------------------------------------------------------------------------
// Free lists.

void PageAllocator::ListAdd(Zone& zone, Pfn pfn, int order) {
  PageFrame& frame = frames_[pfn];
  frame.flags = kPageBuddy;
  frame.order = static_cast<uint8_t>(order);
  frame.owner = 0;
  FreeArea& area = zone.free_area[order];
  frame.prev = kNoPfn;
  frame.next = area.head;
  if (area.head != kNoPfn) frames_[area.head].prev = pfn;
  area.head = pfn;
  ++area.nr_free;
}

void PageAllocator::ListDel(Zone& zone, Pfn pfn, int order) {
  PageFrame& frame = frames_[pfn];
  FreeArea& area = zone.free_area[order];
  if (frame.prev != kNoPfn) frames_[frame.prev].next = frame.next;
  else area.head = frame.next;
  if (frame.next != kNoPfn) frames_[frame.next].prev = frame.prev;
  frame.next = frame.prev = kNoPfn;
  frame.flags &= static_cast<uint8_t>(~kPageBuddy);
  --area.nr_free;
}

Pfn PageAllocator::TakeUntouchedBlock(Zone& zone) {
  const Pfn pfn = zone.untouched_pfn;
  zone.untouched_pfn += 1u << max_order_;
  --zone.free_area[max_order_].nr_free;
  return pfn;
}

// __rmqueue_smallest(): the smallest free block that fits, split down.
// Never-touched max-order blocks come after the listed ones.
Pfn PageAllocator::RmqueueSmallest(Zone& zone, int order) {
  const int max_order = max_order_;
  FreeArea* area = &zone.free_area[order];
  int current = order;
  while (current <= max_order && area->head == kNoPfn) {
    ++current;
    ++area;
  }
  Pfn pfn;
  if (current <= max_order) {
    pfn = area->head;
    ListDel(zone, pfn, current);
  } else if (zone.untouched_pfn < zone.end_pfn()) {
    current = max_order;
    pfn = TakeUntouchedBlock(zone);
  } else {
    return kNoPfn;
  }
  Expand(zone, pfn, order, current);
  zone.free_pages -= uint64_t{1} << order;
  return pfn;
}

// expand(): keep the lower half, give the upper halves back, one order
// lower each time. The arena's frames are read once into a local: a byte
// store into a frame (flags) may alias anything as far as the compiler
// knows, so the member would otherwise be loaded again on every level.
void PageAllocator::Expand(Zone& zone, Pfn pfn, int low, int high) {
  PageFrame* const frames = frames_;
  FreeArea* area = &zone.free_area[high];
  uint32_t size = 1u << high;
  while (high > low) {
    --high;
    --area;
    size >>= 1;
    const Pfn half = pfn + size;
    const Pfn old_head = area->head;
    PageFrame& frame = frames[half];
    frame.flags = kPageBuddy;
    frame.order = static_cast<uint8_t>(high);
    frame.owner = 0;
    frame.prev = kNoPfn;
    frame.next = old_head;
    if (old_head != kNoPfn) frames[old_head].prev = half;
    area->head = half;
    ++area->nr_free;
  }
}

// __free_one_page(): merge with the buddy while it is a free block of the
// same order in the same zone. The buddy's removal is ListDel() written
// out over locals, with one difference: the merged buddy's links are left
// as they are. A frame's links mean something only while it heads a free
// block (kPageBuddy, which is cleared here); every path that makes a frame
// a head again writes them first (ListAdd, Expand, PrepNewPage), and
// nothing else reads them.
RESERVOIR_ALWAYS_INLINE void PageAllocator::FreeOneBlock(Zone& zone, Pfn pfn, int order) {
  PageFrame* const frames = frames_;
  const Pfn start = zone.start_pfn;
  const uint32_t pages = zone.managed_pages;
  const int max_order = max_order_;
  FreeArea* area = &zone.free_area[order];
  uint32_t size = 1u << order;
  for (; order < max_order; ++order, ++area, size <<= 1) {
    Pfn buddy = pfn ^ size;
    const Pfn merged = pfn & buddy;  // the lower of the two: pfn & ~size
    // PLANT(wrong_buddy): the buddy is taken one block too far.
    if (RESERVOIR_PLANTED(wrong_buddy)) buddy = pfn + (size << 1);
    // !zone.Contains(buddy): below the start wraps round to a large value.
    if (buddy - start >= pages) break;
    PageFrame& candidate = frames[buddy];
    if (!(candidate.flags & kPageBuddy) || candidate.order != order) break;
    const Pfn next = candidate.next;
    const Pfn prev = candidate.prev;
    if ((next & prev) == kNoPfn) {
      area->head = kNoPfn;  // it was the only block of its order
    } else {
      if (prev != kNoPfn) frames[prev].next = next;
      else area->head = next;
      if (next != kNoPfn) frames[next].prev = prev;
    }
    candidate.flags = 0;
    --area->nr_free;
    pfn = merged;
  }
  ListAdd(zone, pfn, order);
}

// ---------------------------------------------------------------------------
// Allocation.

Pfn PageAllocator::GetPageFromFreelist(int order, uint32_t alloc_flags,
                                       const AllocContext& ctx,
                                       int* zone_out) {
  // The zonelist: HIGHMEM first when the request may use it, then NORMAL.
  const bool highmem_ok = (ctx.gfp & kGfpHighmem) && nr_zones_ == 2;
  const int classzone = highmem_ok ? kZoneHighmem : kZoneNormal;
  for (int z = classzone; z >= 0; --z) {
    Zone& zone = zones_[z];
    if (!(alloc_flags & kAllocNoWatermarks)) {
      const uint64_t mark = zone.watermark[alloc_flags & kAllocWmarkMask];
      if (!ZoneWatermarkOk(zone, order, mark, classzone, alloc_flags,
                           max_order_)) {
        continue;
      }
    }
    const Pfn pfn = RmqueueSmallest(zone, order);
    if (pfn != kNoPfn) {
      *zone_out = z;
      return pfn;
    }
  }
  return kNoPfn;
}

PageAllocResult PageAllocator::AllocPages(int order, const AllocContext& ctx,
                                          const char* call_site) {
  if (RESERVOIR_UNLIKELY(order < 0 || order > max_order_ || gate_->armed())) {
    return AllocPagesChecked(order, ctx, call_site);
  }
  // Fast path: the low watermark, no relaxation.
  int zone = 0;
  const Pfn pfn = GetPageFromFreelist(order, kAllocWmarkLow, ctx, &zone);
  if (RESERVOIR_UNLIKELY(pfn == kNoPfn)) return AllocPagesSlow(order, ctx);
  return AllocDone(pfn, order, ctx, /*via_no_watermarks=*/false);
}

// A bad order or an installed fault hook: checked out of line, then the
// same fast attempt.
RESERVOIR_NOINLINE PageAllocResult PageAllocator::AllocPagesChecked(
    int order, const AllocContext& ctx, const char* call_site) {
  PageAllocResult result;
  if (order < 0 || order > max_order_) {
    ++stats_.alloc_fail;
    return result;
  }
  if (gate_->armed()) {
    FaultCall call;
    call.site = FaultSite::kPageAlloc;
    call.gfp = ctx.gfp;
    call.in_softirq = ctx.in_softirq;
    call.order = order;
    call.size = kPageSize << order;
    call.call_site = call_site;
    if (gate_->ShouldFail(call)) {
      result.injected = true;
      ++stats_.alloc_fail;
      return result;
    }
  }
  int zone = 0;
  const Pfn pfn = GetPageFromFreelist(order, kAllocWmarkLow, ctx, &zone);
  if (pfn == kNoPfn) return AllocPagesSlow(order, ctx);
  return AllocDone(pfn, order, ctx, /*via_no_watermarks=*/false);
}

// __alloc_pages_slowpath(): the fast attempt at the low watermark failed.
RESERVOIR_NOINLINE PageAllocResult PageAllocator::AllocPagesSlow(
    int order, const AllocContext& ctx) {
  int zone = 0;
  const ReserveAccess access = GfpReserveAccess(ctx);
  // The min watermark, relaxed for __GFP_HIGH, further for non-blocking
  // high-priority requests, and for OOM victims. The model has no reclaim
  // or compaction to retry with.
  uint32_t flags = kAllocWmarkMin;
  if (ctx.gfp & kGfpHigh) flags |= kAllocHigh;
  if (!(ctx.gfp & kGfpDirectReclaim) && !(ctx.gfp & kGfpNoMemalloc))
    flags |= kAllocNonBlock;
  if (access == ReserveAccess::kOom) flags |= kAllocOom;
  Pfn pfn = GetPageFromFreelist(order, flags, ctx, &zone);
  bool via_no_watermarks = false;
  if (pfn == kNoPfn && access == ReserveAccess::kNoWatermarks) {
    pfn = GetPageFromFreelist(order, kAllocNoWatermarks, ctx, &zone);
    via_no_watermarks = pfn != kNoPfn;
  }
  if (pfn == kNoPfn && (ctx.gfp & kGfpNoFail)) {
    // The kernel would loop forever with ALLOC_MIN_RESERVE; the model
    // tries that once and then admits failure (counted, not reported).
    pfn = GetPageFromFreelist(order, kAllocWmarkMin | kAllocHigh, ctx, &zone);
    if (pfn == kNoPfn) ++stats_.nofail_failed;
  }
  if (pfn == kNoPfn) {
    ++stats_.alloc_fail;
    return PageAllocResult{};
  }
  return AllocDone(pfn, order, ctx, via_no_watermarks);
}

PageAllocResult PageAllocator::AllocDone(Pfn pfn, int order,
                                         const AllocContext& ctx,
                                         bool via_no_watermarks) {
  PrepNewPage(pfn, order, ctx, via_no_watermarks);
  ++stats_.alloc_ok;
  if (via_no_watermarks) ++stats_.alloc_no_watermarks;
  PageAllocResult result;
  result.pfn = pfn;
  result.via_no_watermarks = via_no_watermarks;
  if (audit_->cheap()) {
    AuditCheapAfterAlloc(pfn, order, IsEntitled(ctx));
    if (OwnFullAuditDue()) AuditFull();
  }
  return result;
}

// prep_new_page(): the head records order, owner and the reserve tag.
void PageAllocator::PrepNewPage(Pfn pfn, int order, const AllocContext& ctx,
                                bool via_no_watermarks) {
  PageFrame& head = frames_[pfn];
  uint8_t flags = kPageHead;
  if (IsEntitled(ctx)) flags |= kPageEntitledOwner;
  if (via_no_watermarks) flags |= kPageViaNoWatermarks;
  // The tag: set exactly when only NO_WATERMARKS could serve the request.
  if (via_no_watermarks) flags |= kPagePfmemalloc;
  // PLANT(pfmemalloc_every_entitled): tag every entitled caller's page
  // (the bug fixed by "mm: only set page->pfmemalloc when
  // ALLOC_NO_WATERMARKS was used").
  if (RESERVOIR_PLANTED(pfmemalloc_every_entitled) && IsEntitled(ctx)) {
    flags |= kPagePfmemalloc;
  }
  // PLANT(stale_pfmemalloc): a reused page keeps the tag it had when it was
  // freed (the compaction-capture bug).
  if (RESERVOIR_PLANTED(stale_pfmemalloc)) {
    flags |= head.reserved & kPagePfmemalloc;
  }
  head.flags = flags;
  head.order = static_cast<uint8_t>(order);
  head.owner = 0;
  head.next = head.prev = kNoPfn;
  if (flags & kPagePfmemalloc) {
    zones_[ZoneOf(pfn)].pfmemalloc_pages += uint64_t{1} << order;
  }
  void* address = PageAddress(pfn);
  const size_t bytes = static_cast<size_t>(kPageSize) << order;
  UnpoisonForCaller(address, bytes, /*zeroed=*/false);
  if (ctx.gfp & kGfpZero) std::memset(address, 0, bytes);
}

// ---------------------------------------------------------------------------
// Free.

bool PageAllocator::InsideFreeBlock(Pfn pfn) const {
  for (int order = 0; order <= max_order_; ++order) {
    const Pfn head = pfn & ~((1u << order) - 1);
    const PageFrame& frame = frames_[head];
    if ((frame.flags & kPageBuddy) && frame.order >= order) return true;
  }
  const Zone& zone = zones_[ZoneOf(pfn)];
  return pfn >= zone.untouched_pfn;
}

void PageAllocator::FreePages(Pfn pfn, int order, uint32_t expected_owner) {
  if (pfn >= nr_pages_) {
    ReportBug(BugClass::kInvalidFree, "page.free_outside_arena", "free_pages of pfn %u outside the arena "
              "(%u pages)", pfn, nr_pages_);
  }
  PageFrame& head = frames_[pfn];
  if (!(head.flags & kPageHead)) {
    if (InsideFreeBlock(pfn)) {
      ReportBug(BugClass::kDoubleFree, "page.free_already_free", "free_pages of pfn %u order %d: the "
                "page is already free", pfn, order);
    }
    ReportBug(BugClass::kInvalidFree, "page.free_not_block_head", "free_pages of pfn %u order %d: not the "
              "head of an allocated block", pfn, order);
  }
  if (head.order != order) {
    ReportBug(BugClass::kInvalidFree, "page.free_wrong_order", "free_pages of pfn %u with order %d, "
              "but it was allocated with order %d", pfn, order, head.order);
  }
  if (head.owner != expected_owner || (head.flags & kPageSlab)) {
    ReportBug(BugClass::kInvalidFree, "page.free_wrong_owner", "free_pages of pfn %u order %d: the block "
              "belongs to %s", pfn, order,
              (head.flags & kPageSlab) ? "a slab" : "kmalloc");
  }
  const int zone_index = ZoneOf(pfn);
  Zone& zone = zones_[zone_index];
  if (head.flags & kPagePfmemalloc) {
    zone.pfmemalloc_pages -= uint64_t{1} << order;
  }
  // `reserved` remembers the tag the block had when freed: the audit of a
  // wrong tag says whether it is that one (and the stale_pfmemalloc plant
  // keeps it).
  head.reserved = head.flags & kPagePfmemalloc;
  head.flags = 0;
  head.owner = 0;
  PoisonMemory(PageAddress(pfn), static_cast<size_t>(kPageSize) << order);
  FreeOneBlock(zone, pfn, order);
  zone.free_pages += uint64_t{1} << order;
  ++stats_.frees;
  if (audit_->cheap()) {
    AuditCheapZone(zone_index);
    if (OwnFullAuditDue()) AuditFull();
  }
}

// ---------------------------------------------------------------------------
// The strict reserve.

bool PageAllocator::SetStrictReserve(uint64_t pages) {
  // The whole reserve is held in ZONE_NORMAL: the reserve's users
  // (kmalloc, slab, network buffers) cannot use highmem.
  Zone& zone = zones_[kZoneNormal];
  if (pages > zone.pages_emerg) {
    // The zone must be able to hold it right now, above its min watermark:
    // the model has no reclaim to make room.
    if (zone.free_pages < zone.watermark[kAllocWmarkMin] + pages) return false;
  }
  zone.pages_emerg = pages;
  strict_reserve_ = pages;
  return true;
}

// ---------------------------------------------------------------------------
// Reset.

// Unsteered: how much there is to clean is what the previous user of the
// model touched, not anything of the next one's (reservoir/unsteered.h).
RESERVOIR_UNSTEERED void PageAllocator::ResetZone(Zone& zone) {
  // Only the touched prefix has non-pristine metadata. The bounds in
  // locals: the frames' byte fields may alias the zone and this object, so
  // the compiler would load both again after every frame.
  PageFrame* const first = frames_ + zone.start_pfn;
  PageFrame* const last = frames_ + zone.untouched_pfn;
#pragma clang loop unroll_count(8)
  for (PageFrame* frame = first; frame < last; ++frame) *frame = PageFrame{};
  // Every free put its pages back poisoned; only a zone with pages still
  // out needs the touched range poisoned again.
  if (zone.untouched_pfn > zone.start_pfn &&
      zone.free_pages != zone.managed_pages) {
    PoisonMemory(PageAddress(zone.start_pfn),
                 static_cast<size_t>(zone.untouched_pfn - zone.start_pfn)
                     << kPageShift);
  }
  for (int order = 0; order <= kMaxOrderLimit; ++order) {
    zone.free_area[order] = FreeArea{};
  }
  zone.free_area[max_order_].nr_free = zone.managed_pages >> max_order_;
  zone.free_pages = zone.managed_pages;
  zone.untouched_pfn = zone.start_pfn;
  zone.pages_emerg = 0;
  zone.pfmemalloc_pages = 0;
}

// Unsteered, as ResetZone: the zones it cleans are the previous shape's.
RESERVOIR_UNSTEERED void PageAllocator::Reset() {
  for (int z = 0; z < nr_zones_; ++z) ResetZone(zones_[z]);
  strict_reserve_ = 0;
  stats_ = PageAllocatorStats{};
}

void PageAllocator::Reconfigure(const ModelConfig& config) {
  if (config.normal_pages + config.highmem_pages > capacity_pages_ ||
      ValidateConfig(config) != nullptr) {
    std::fprintf(stderr, "reservoir: Reconfigure needs a valid config of at "
                 "most %u pages\n", capacity_pages_);
    std::abort();
  }
  Reset();  // leaves every frame of the old shape pristine
  // Always laid out again, even when the shape did not change: a shortcut
  // for "same shape as last time" made the path (and a fuzz input's
  // coverage) depend on the previous configuration, for a few hundred
  // instructions saved per reset.
  SetupShape(config);
}

// ---------------------------------------------------------------------------
// Test-only corruption.

void PageAllocator::CorruptFreeCountForTesting(int zone_index, int64_t delta) {
  zones_[zone_index].free_pages += delta;
}

void PageAllocator::CorruptFreeListForTesting(int zone_index, int order) {
  ++zones_[zone_index].free_area[order].nr_free;
}

void PageAllocator::ClearTagForTesting(Pfn pfn) {
  if (!(frames_[pfn].flags & kPagePfmemalloc)) return;
  frames_[pfn].flags &= static_cast<uint8_t>(
      ~(kPagePfmemalloc | kPageViaNoWatermarks));
  zones_[ZoneOf(pfn)].pfmemalloc_pages -= uint64_t{1} << frames_[pfn].order;
}

void PageAllocator::SetTagForTesting(Pfn pfn) {
  frames_[pfn].flags |= kPagePfmemalloc;
  zones_[ZoneOf(pfn)].pfmemalloc_pages += uint64_t{1}
                                                << frames_[pfn].order;
}

}  // namespace reservoir
