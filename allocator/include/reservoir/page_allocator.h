// Layer 1: the buddy page allocator over a real arena of 4 KiB frames, with
// per-zone watermarks and the strict reserve (mm/page_alloc.c).
#pragma once

#include <cstddef>
#include <cstdint>

#include "reservoir/config.h"
#include "reservoir/fault_gate.h"
#include "reservoir/gfp.h"
#include "reservoir/page_frame.h"
#include "reservoir/zone.h"

namespace reservoir {

// Per-allocation facts the caller (slab, reserve wrappers, oracles) may want.
struct PageAllocResult {
  Pfn pfn = kNoPfn;
  bool via_no_watermarks = false;  // succeeded only through NO_WATERMARKS
  bool injected = false;           // failed because a fault was injected
};

struct PageAllocatorStats {
  uint64_t alloc_ok = 0;
  uint64_t alloc_fail = 0;
  uint64_t alloc_no_watermarks = 0;  // successes that needed the reserve
  uint64_t nofail_failed = 0;        // __GFP_NOFAIL requests we could not serve
  uint64_t frees = 0;
};

class PageAllocator {
 public:
  // `capacity_pages` (at least the config's pages) sizes the arena, so the
  // allocator can later be reconfigured into any shape that fits.
  PageAllocator(const ModelConfig& config, FaultGate* gate,
                uint32_t capacity_pages = 0);
  ~PageAllocator();
  PageAllocator(const PageAllocator&) = delete;
  PageAllocator& operator=(const PageAllocator&) = delete;

  // __alloc_pages(): fast attempt at LOW, slow attempt at MIN with the
  // gfp relaxations, then NO_WATERMARKS for entitled callers. Returns kNoPfn
  // on failure (never a report: out of memory is expected).
  PageAllocResult AllocPages(int order, const AllocContext& ctx,
                             const char* call_site);
  // __free_pages(): misuse (not allocated, wrong order, foreign pfn) is
  // reported as invalid-free or double-free.
  // `expected_owner` is PageFrame::owner of the block (0 for plain pages,
  // the slab layer passes its own marks).
  void FreePages(Pfn pfn, int order, uint32_t expected_owner = 0);

  // The strict reserve: total pages only NO_WATERMARKS may reach. Fails
  // (returns false, nothing changed) when the zones cannot hold it now.
  bool SetStrictReserve(uint64_t pages);
  uint64_t strict_reserve() const { return strict_reserve_; }

  void* PageAddress(Pfn pfn) const {
    return arena_ + (static_cast<size_t>(pfn) << kPageShift);
  }
  // kNoPfn when `address` is outside the arena.
  Pfn AddressToPfn(const void* address) const {
    const uint8_t* p = static_cast<const uint8_t*>(address);
    if (p < arena_ ||
        p >= arena_ + (static_cast<size_t>(nr_pages_) << kPageShift))
      return kNoPfn;
    return static_cast<Pfn>((p - arena_) >> kPageShift);
  }
  // The head of the allocated block holding `address` (a slab, a large
  // kmalloc or plain pages), or kNoPfn when the memory is not allocated.
  Pfn AllocatedHeadOf(const void* address) const;
  // The same inline, for the slab allocator's kfree fast path (the out-of-
  // line one keeps callers built with comparison tracing from tracing its
  // loop). Blocks are aligned to their order, so the head is the first
  // aligned pfn below whose block reaches this page.
  Pfn AllocatedHeadOfInline(const void* address) const {
    const Pfn pfn = AddressToPfn(address);
    if (pfn == kNoPfn) return kNoPfn;
    const PageFrame* const frames = frames_;
    const int max_order = max_order_;
    for (int order = 0; order <= max_order; ++order) {
      const Pfn head = pfn & ~((1u << order) - 1);
      const PageFrame& frame = frames[head];
      if ((frame.flags & kPageHead) && frame.order >= order) return head;
    }
    return kNoPfn;
  }
  uint8_t* arena() const { return arena_; }
  uint32_t nr_pages() const { return nr_pages_; }
  int max_order() const { return max_order_; }
  int nr_zones() const { return nr_zones_; }
  const Zone& zone(int index) const { return zones_[index]; }
  const PageFrame& frame(Pfn pfn) const { return frames_[pfn]; }
  PageFrame& mutable_frame(Pfn pfn) { return frames_[pfn]; }
  uint64_t free_pages() const;
  // Live pages handed out from the strict reserve (tagged pfmemalloc).
  uint64_t pfmemalloc_pages() const;
  const PageAllocatorStats& stats() const { return stats_; }

  // Back to the state right after construction, in time proportional to the
  // max-order blocks touched since the last reset.
  void Reset();
  // Reset() into a new config whose pages fit the capacity: zones,
  // max_order, watermarks and audit level all follow it.
  void Reconfigure(const ModelConfig& config);
  uint32_t capacity_pages() const { return capacity_pages_; }
  // Reads the audit level from `schedule` (the model's) from now on; the
  // model then runs the full audits, the allocator only the cheap tier.
  void UseAuditSchedule(const AuditSchedule* schedule) { audit_ = schedule; }
  void set_audit_level(AuditLevel level) { own_audit_.level = level; }

  // Invariant checks. Cheap: counters and the zone an operation touched.
  // Full: walks every touched block and free list.
  void AuditCheapAfterAlloc(Pfn pfn, int order, bool entitled) const;
  void AuditCheapZone(int zone_index) const;
  void AuditFull() const;
  // True when every page is free and merged and nothing is tagged.
  bool IsPristine() const;
  // One line describing why IsPristine() is false (for reports).
  void DescribeNotPristine(char* buf, size_t size) const;

  // Test-only corruption hooks for death tests.
  void CorruptFreeCountForTesting(int zone_index, int64_t delta);
  void CorruptFreeListForTesting(int zone_index, int order);
  void SetTagForTesting(Pfn pfn);
  // Drops the tag and the provenance that would explain it, keeping the
  // zone's tag counter consistent: a tag lost without a trace.
  void ClearTagForTesting(Pfn pfn);

 private:
  int ZoneOf(Pfn pfn) const {
    return nr_zones_ == 2 && pfn >= zones_[kZoneHighmem].start_pfn
               ? kZoneHighmem
               : kZoneNormal;
  }
  void SetupShape(const ModelConfig& config);
  // AllocPages() is the fast path; these are its out-of-line parts.
  PageAllocResult AllocPagesChecked(int order, const AllocContext& ctx,
                                    const char* call_site);
  PageAllocResult AllocPagesSlow(int order, const AllocContext& ctx);
  PageAllocResult AllocDone(Pfn pfn, int order, const AllocContext& ctx,
                            bool via_no_watermarks);
  Pfn GetPageFromFreelist(int order, uint32_t alloc_flags,
                          const AllocContext& ctx, int* zone_out);
  Pfn RmqueueSmallest(Zone& zone, int order);
  Pfn TakeUntouchedBlock(Zone& zone);
  void Expand(Zone& zone, Pfn pfn, int low, int high);
  void FreeOneBlock(Zone& zone, Pfn pfn, int order);
  void ListAdd(Zone& zone, Pfn pfn, int order);
  void ListDel(Zone& zone, Pfn pfn, int order);
  void PrepNewPage(Pfn pfn, int order, const AllocContext& ctx,
                   bool via_no_watermarks);
  void ResetZone(Zone& zone);
  bool InsideFreeBlock(Pfn pfn) const;
  void AuditZoneFull(const Zone& zone) const;

  FaultGate* gate_;
  uint8_t* arena_ = nullptr;
  PageFrame* frames_ = nullptr;
  uint32_t nr_pages_ = 0;
  uint32_t capacity_pages_ = 0;
  int max_order_ = kMaxOrderLimit;
  int nr_zones_ = 1;
  Zone zones_[kMaxZones];
  uint64_t strict_reserve_ = 0;
  // On its own the allocator follows own_audit_, full audits included;
  // inside a model, the model's schedule.
  AuditSchedule own_audit_;
  const AuditSchedule* audit_ = &own_audit_;
  bool OwnFullAuditDue() const {
    return audit_ == &own_audit_ && own_audit_.level == AuditLevel::kFull;
  }
  PageAllocatorStats stats_;
  ModelConfig config_;
};

}  // namespace reservoir
