// The free side of SLUB: do_slab_free / __slab_free, deactivate_slab,
// put_cpu_partial, __unfreeze_partials, discard_slab and kmem_cache_shrink.
#include "fast_path.h"
#include "free_pointer.h"
#include "reservoir/report.h"
#include "reservoir/slab_allocator.h"
#include "sanitizer.h"
#include "slab_fast_path.h"

namespace reservoir {

void SlabAllocator::ListAdd(Pfn* head, Pfn slab_pfn) {
  Slab& slab = slabs_[slab_pfn];
  slab.prev = kNoPfn;
  slab.next = *head;
  if (*head != kNoPfn) slabs_[*head].prev = slab_pfn;
  *head = slab_pfn;
}

void SlabAllocator::ListDel(Pfn* head, Pfn slab_pfn) {
  Slab& slab = slabs_[slab_pfn];
  if (slab.prev != kNoPfn) slabs_[slab.prev].next = slab.next;
  else *head = slab.next;
  if (slab.next != kNoPfn) slabs_[slab.next].prev = slab.prev;
  slab.next = slab.prev = kNoPfn;
}

void SlabAllocator::SlabFreeObject(KmemCache* cache, Pfn slab_pfn,
                                   uint32_t index, void* object, int cpu) {
  Slab& slab = slabs_[slab_pfn];
  slab.audited = false;  // Slab::audited: the object walk reads these
  slab.in_use_map[index / 64] &= ~(uint64_t{1} << (index % 64));
  --slab.inuse;
  --cache->live_objects;
  KmemCacheCpu& c = cache->cpu[cpu];
  UnpoisonForAllocator(object, sizeof(void*));
  if (c.slab == slab_pfn) {
    // Fast path: back onto this CPU's lockless freelist.
    SetFreePointer(object, c.freelist);
    c.freelist = object;
    PoisonMemory(object, cache->size);
    ++cache->stats.free_fastpath;
    if (audit_->cheap()) AuditSlabFast(*cache, slab_pfn);
    return;
  }
  ++cache->stats.free_slowpath;
  SetFreePointer(object, slab.freelist);
  slab.freelist = object;
  PoisonMemory(object, cache->size);

  switch (slab.place) {
    case SlabPlace::kFull:
      // The first free into a full slab puts it on this CPU's partials.
      ListDel(&cache->full, slab_pfn);
      --cache->nr_full;
      PutCpuPartial(cache, slab_pfn, cpu);
      break;
    case SlabPlace::kNodePartial:
      if (slab.inuse == 0 && cache->nr_node_partial >= cache->min_partial) {
        ListDel(&cache->node_partial, slab_pfn);
        --cache->nr_node_partial;
        DiscardSlab(cache, slab_pfn);
        return;
      }
      break;
    case SlabPlace::kCpuActive:   // another CPU's active slab: frozen
    case SlabPlace::kCpuPartial:  // frozen on a CPU's partial list
      break;
    case SlabPlace::kNone:
      ReportBug(BugClass::kSlabCorruption, "slab.free_into_unlisted_slab", "cache %s: free into slab pfn %u "
                "which is on no list", cache->name, slab_pfn);
  }
  if (audit_->cheap()) AuditSlabFast(*cache, slab_pfn);
}

RESERVOIR_NOINLINE void SlabAllocator::ReportCyclicCpuFreelist(
    const KmemCache& cache, int cpu, Pfn slab_pfn) const {
  ReportBug(BugClass::kSlabCorruption, "slab.deactivate_cyclic_cpu_freelist", "cache %s: CPU %d freelist of slab "
            "pfn %u is cyclic", cache.name, cpu, slab_pfn);
}

// deactivate_slab(): the CPU lets its active slab go; its CPU freelist
// goes back into the slab.
void SlabAllocator::DeactivateSlab(KmemCache* cache, int cpu) {
  KmemCacheCpu& c = cache->cpu[cpu];
  const Pfn slab_pfn = c.slab;
  if (slab_pfn == kNoPfn) return;
  Slab& slab = slabs_[slab_pfn];
  slab.audited = false;  // Slab::audited: its free lists change
  // Each object moves from the CPU freelist onto the slab's, one by one,
  // as before; the lists live in locals while they move, because every
  // store of a free pointer could alias the cache, the slab and the CPU
  // slot as far as the compiler knows, and it would reload all three per
  // object (most of estimator_fuzzer's slab time).
  //
  // Four objects per turn of the loop while at least four moves are left
  // before the guard (estimator_fuzzer deactivates a slab with a long CPU
  // freelist on most reserve operations: every unentitled first attempt
  // that meets its reserve slab), then one at a time with the guard after
  // each: the same moves in the same order, and a cyclic list is reported
  // after the same number of moves (`room` counts the moves the guard
  // allows; with four or more left no move of a turn can trip it).
  void* cpu_list = c.freelist;
  void* slab_list = slab.freelist;
  uint32_t room = slab.objects;  // moves left before the list is cyclic
  while (cpu_list != nullptr && room >= 4) {
    // first..fourth go onto the slab's list in that order (each in front
    // of the one before); a null successor ends the list early.
    void* const first = cpu_list;
    void* const second = GetFreePointer(first);
    SetFreePointer(first, slab_list);
    slab_list = first;
    cpu_list = second;
    if (second == nullptr) break;
    void* const third = GetFreePointer(second);
    SetFreePointer(second, first);
    slab_list = second;
    cpu_list = third;
    if (third == nullptr) break;
    void* const fourth = GetFreePointer(third);
    SetFreePointer(third, second);
    slab_list = third;
    cpu_list = fourth;
    if (fourth == nullptr) break;
    cpu_list = GetFreePointer(fourth);
    SetFreePointer(fourth, third);
    slab_list = fourth;
    room -= 4;
  }
  while (cpu_list != nullptr) {
    void* const object = cpu_list;
    cpu_list = GetFreePointer(object);
    SetFreePointer(object, slab_list);
    slab_list = object;
    if (room-- == 0) ReportCyclicCpuFreelist(*cache, cpu, slab_pfn);
  }
  c.freelist = nullptr;
  slab.freelist = slab_list;
  c.slab = kNoPfn;
  slab.place = SlabPlace::kNone;
  PlaceInactiveSlab(cache, slab_pfn);
}

void SlabAllocator::PlaceInactiveSlab(KmemCache* cache, Pfn slab_pfn) {
  Slab& slab = slabs_[slab_pfn];
  if (slab.inuse == 0 && cache->nr_node_partial >= cache->min_partial) {
    DiscardSlab(cache, slab_pfn);
  } else if (slab.inuse == slab.objects) {
    slab.place = SlabPlace::kFull;
    ListAdd(&cache->full, slab_pfn);
    ++cache->nr_full;
  } else {
    slab.place = SlabPlace::kNodePartial;
    ListAdd(&cache->node_partial, slab_pfn);
    ++cache->nr_node_partial;
  }
}

void SlabAllocator::PutCpuPartial(KmemCache* cache, Pfn slab_pfn, int cpu) {
  if (cache->cpu_partial_slabs == 0) {
    PlaceInactiveSlab(cache, slab_pfn);
    return;
  }
  KmemCacheCpu& c = cache->cpu[cpu];
  if (c.nr_partial >= cache->cpu_partial_slabs) UnfreezePartials(cache, cpu);
  Slab& slab = slabs_[slab_pfn];
  slab.place = SlabPlace::kCpuPartial;
  slab.cpu = static_cast<uint8_t>(cpu);
  ListAdd(&c.partial, slab_pfn);
  ++c.nr_partial;
}

// __unfreeze_partials(): a CPU's partial slabs go to the node; empty ones
// beyond min_partial are discarded.
void SlabAllocator::UnfreezePartials(KmemCache* cache, int cpu) {
  KmemCacheCpu& c = cache->cpu[cpu];
  while (c.partial != kNoPfn) {
    const Pfn slab_pfn = c.partial;
    ListDel(&c.partial, slab_pfn);
    slabs_[slab_pfn].place = SlabPlace::kNone;
    PlaceInactiveSlab(cache, slab_pfn);
  }
  c.nr_partial = 0;
}

// discard_slab(): the reserve tag is cleared before the pages go back.
void SlabAllocator::DiscardSlab(KmemCache* cache, Pfn slab_pfn) {
  Slab& slab = slabs_[slab_pfn];
  if (slab.inuse != 0) {
    ReportBug(BugClass::kSlabCorruption, "slab.discard_slab_in_use", "cache %s: discarding slab pfn %u "
              "with %u objects in use", cache->name, slab_pfn, slab.inuse);
  }
  const int order = slab.order;
  slab.audited = false;  // Slab::audited
  slab.place = SlabPlace::kNone;
  slab.pfmemalloc = false;
  slab.freelist = nullptr;
  PageFrame& head = pages_->mutable_frame(slab_pfn);
  head.flags &= static_cast<uint8_t>(~kPageSlab);
  const uint32_t owner = head.owner;
  --cache->nr_slabs;
  ++cache->stats.discarded_slabs;
  pages_->FreePages(slab_pfn, order, owner);
}

void SlabAllocator::CacheShrink(KmemCache* cache) {
  for (int cpu = 0; cpu < nr_cpus_; ++cpu) {
    DeactivateSlab(cache, cpu);
    UnfreezePartials(cache, cpu);
  }
  Pfn pfn = cache->node_partial;
  while (pfn != kNoPfn) {
    const Pfn next = slabs_[pfn].next;
    if (slabs_[pfn].inuse == 0) {
      ListDel(&cache->node_partial, pfn);
      --cache->nr_node_partial;
      DiscardSlab(cache, pfn);
    }
    pfn = next;
  }
}

}  // namespace reservoir
