// The slab layer's invariants: in-use counts, acyclic free lists, every
// slab on exactly one list, and the reserve tag matching its page.
#include "free_pointer.h"
#include "reservoir/report.h"
#include "reservoir/slab_allocator.h"

namespace reservoir {
namespace {

int Popcount(const Slab& slab) {
  int total = 0;
  for (uint64_t word : slab.in_use_map) total += __builtin_popcountll(word);
  return total;
}

}  // namespace

void SlabAllocator::AuditSlab(const KmemCache& cache, Pfn slab_pfn) const {
  const Slab& slab = slabs_[slab_pfn];
  const PageFrame& head = pages_->frame(slab_pfn);
  if (!(head.flags & kPageSlab) || head.owner != uint32_t{cache.id} + 1u ||
      slab.cache_id != cache.id) {
    ReportBug(BugClass::kSlabCorruption, "slab.audit_slab_not_cache_page", "slab pfn %u of cache %s is not "
              "marked as that cache's slab", slab_pfn, cache.name);
  }
  // The cheap tier: the in-use bit of the object itself was checked when
  // it was handed out or freed; counting the whole bitmap is the full tier's.
  if (slab.inuse > slab.objects) {
    ReportBug(BugClass::kSlabCorruption, "slab.audit_slab_inuse_range", "cache %s slab pfn %u: inuse %u of "
              "%u objects", cache.name, slab_pfn, slab.inuse, slab.objects);
  }
  if (slab.pfmemalloc != static_cast<bool>(head.flags & kPagePfmemalloc)) {
    ReportBug(BugClass::kStalePfmemalloc, "slab.audit_slab_tag_vs_page_tag", "cache %s slab pfn %u: slab tag %d "
              "but page tag %d", cache.name, slab_pfn, slab.pfmemalloc,
              (head.flags & kPagePfmemalloc) != 0);
  }
  if (slab.place == SlabPlace::kCpuActive &&
      cache.cpu[slab.cpu].slab != slab_pfn) {
    ReportBug(BugClass::kSlabCorruption, "slab.audit_slab_not_cpu_active", "cache %s slab pfn %u claims to be "
              "CPU %u's active slab but is not", cache.name, slab_pfn,
              slab.cpu);
  }
}

void SlabAllocator::AuditInUseCount(const KmemCache& cache,
                                    Pfn slab_pfn) const {
  const Slab& slab = slabs_[slab_pfn];
  if (Popcount(slab) != slab.inuse) {
    ReportBug(BugClass::kSlabCorruption, "slab.audit_inuse_count", "cache %s slab pfn %u: inuse %u but "
              "%d objects are handed out (of %u)", cache.name, slab_pfn,
              slab.inuse, Popcount(slab), slab.objects);
  }
}

uint32_t SlabAllocator::CountFreelist(const KmemCache& cache, Pfn slab_pfn,
                                      void* head) const {
  const Slab& slab = slabs_[slab_pfn];
  uint32_t count = 0;
  for (void* object = head; object != nullptr;
       object = GetFreePointer(object)) {
    const size_t offset =
        static_cast<uint8_t*>(object) -
        static_cast<uint8_t*>(pages_->PageAddress(slab_pfn));
    const uint32_t index = ObjectIndex(cache, slab.objects, offset);
    if (index == kNotAnObject) {
      ReportBug(BugClass::kSlabCorruption, "slab.audit_freelist_foreign_entry", "cache %s slab pfn %u: free list "
                "entry %p is not an object of the slab", cache.name, slab_pfn,
                object);
    }
    if (slab.in_use_map[index / 64] & (uint64_t{1} << (index % 64))) {
      ReportBug(BugClass::kSlabCorruption, "slab.audit_freelist_entry_in_use", "cache %s slab pfn %u: object %u "
                "is on the free list but in use", cache.name, slab_pfn, index);
    }
    if (++count > slab.objects) {
      ReportBug(BugClass::kSlabCorruption, "slab.audit_freelist_cyclic", "cache %s slab pfn %u: the free "
                "list is cyclic", cache.name, slab_pfn);
    }
  }
  return count;
}

void SlabAllocator::AuditObjects(const KmemCache& cache, Pfn slab_pfn,
                                 void* cpu_freelist, bool active,
                                 bool touched_only) const {
  Slab& slab = slabs_[slab_pfn];
  if (touched_only && slab.audited) return;
  AuditInUseCount(cache, slab_pfn);
  if (active) {
    const uint32_t free_objects = CountFreelist(cache, slab_pfn, cpu_freelist) +
                                  CountFreelist(cache, slab_pfn, slab.freelist);
    if (free_objects + slab.inuse != slab.objects) {
      ReportBug(BugClass::kSlabCorruption, "slab.audit_cpu_active_object_sum", "cache %s active slab pfn %u: %u "
                "in use + %u free != %u objects", cache.name, slab_pfn,
                slab.inuse, free_objects, slab.objects);
    }
  } else {
    const uint32_t free_objects = CountFreelist(cache, slab_pfn, slab.freelist);
    if (free_objects + slab.inuse != slab.objects) {
      ReportBug(BugClass::kSlabCorruption, "slab.audit_list_object_sum", "cache %s slab pfn %u: %u in use "
                "+ %u free != %u objects", cache.name, slab_pfn, slab.inuse,
                free_objects, slab.objects);
    }
  }
  slab.audited = true;
}

void SlabAllocator::AuditList(const KmemCache& cache, Pfn head,
                              SlabPlace place, int cpu, uint64_t expected,
                              uint64_t* slabs, uint64_t* inuse,
                              bool touched_only) const {
  uint64_t count = 0;
  Pfn prev = kNoPfn;
  for (Pfn pfn = head; pfn != kNoPfn; pfn = slabs_[pfn].next) {
    const Slab& slab = slabs_[pfn];
    if (slab.place != place || (cpu >= 0 && slab.cpu != cpu) ||
        slab.prev != prev) {
      ReportBug(BugClass::kSlabCorruption, "slab.audit_list_wrong_place", "cache %s: slab pfn %u on the %s "
                "list says it is %s (cpu %u)", cache.name, pfn,
                SlabPlaceName(place), SlabPlaceName(slab.place), slab.cpu);
    }
    AuditSlab(cache, pfn);
    AuditObjects(cache, pfn, nullptr, /*active=*/false, touched_only);
    if (place == SlabPlace::kFull && slab.inuse != slab.objects) {
      ReportBug(BugClass::kSlabCorruption, "slab.audit_full_list_not_full", "cache %s slab pfn %u is on the "
                "full list with %u of %u in use", cache.name, pfn, slab.inuse,
                slab.objects);
    }
    if (++count > expected + 1 || count > pages_->nr_pages()) {
      ReportBug(BugClass::kSlabCorruption, "slab.audit_list_longer_than_count", "cache %s: the %s list is longer "
                "than its count %llu", cache.name, SlabPlaceName(place),
                static_cast<unsigned long long>(expected));
    }
    *inuse += slab.inuse;
    prev = pfn;
  }
  if (count != expected) {
    ReportBug(BugClass::kSlabCorruption, "slab.audit_list_count", "cache %s: the %s list has %llu "
              "slabs but its count says %llu", cache.name,
              SlabPlaceName(place), static_cast<unsigned long long>(count),
              static_cast<unsigned long long>(expected));
  }
  *slabs += count;
}

// A cache that holds nothing: every list empty with a zero count, no CPU
// slab and no CPU freelist, nothing counted. AuditCache() would walk
// exactly that and report nothing (each AuditList of an empty list with
// count 0 passes, a CPU without slab or freelist passes, 0 slabs and 0
// objects match the zero counts), and any other state fails this test and
// gets the whole walk. Most kmalloc caches are empty in most programs.
bool SlabAllocator::CacheHoldsNothing(const KmemCache& cache) const {
  if (cache.node_partial != kNoPfn || cache.nr_node_partial != 0 ||
      cache.full != kNoPfn || cache.nr_full != 0 || cache.nr_slabs != 0 ||
      cache.live_objects != 0) {
    return false;
  }
  for (int cpu = 0; cpu < nr_cpus_; ++cpu) {
    const KmemCacheCpu& c = cache.cpu[cpu];
    if (c.partial != kNoPfn || c.nr_partial != 0 || c.slab != kNoPfn ||
        c.freelist != nullptr) {
      return false;
    }
  }
  return true;
}

void SlabAllocator::AuditCache(const KmemCache& cache,
                               bool touched_only) const {
  if (CacheHoldsNothing(cache)) return;
  uint64_t slabs = 0;
  uint64_t inuse = 0;
  AuditList(cache, cache.node_partial, SlabPlace::kNodePartial, -1,
            cache.nr_node_partial, &slabs, &inuse, touched_only);
  AuditList(cache, cache.full, SlabPlace::kFull, -1, cache.nr_full, &slabs,
            &inuse, touched_only);
  for (int cpu = 0; cpu < nr_cpus_; ++cpu) {
    const KmemCacheCpu& c = cache.cpu[cpu];
    AuditList(cache, c.partial, SlabPlace::kCpuPartial, cpu, c.nr_partial,
              &slabs, &inuse, touched_only);
    if (c.slab == kNoPfn) {
      if (c.freelist != nullptr) {
        ReportBug(BugClass::kSlabCorruption, "slab.audit_cpu_freelist_without_slab", "cache %s: CPU %d has a "
                  "freelist but no active slab", cache.name, cpu);
      }
      continue;
    }
    const Slab& slab = slabs_[c.slab];
    if (slab.place != SlabPlace::kCpuActive || slab.cpu != cpu) {
      ReportBug(BugClass::kSlabCorruption, "slab.audit_cpu_active_wrong_place", "cache %s: CPU %d's active slab "
                "pfn %u says it is %s", cache.name, cpu, c.slab,
                SlabPlaceName(slab.place));
    }
    AuditSlab(cache, c.slab);
    AuditObjects(cache, c.slab, c.freelist, /*active=*/true, touched_only);
    ++slabs;
    inuse += slab.inuse;
  }
  if (slabs != cache.nr_slabs) {
    ReportBug(BugClass::kSlabCorruption, "slab.audit_cache_nr_slabs", "cache %s: %llu slabs on lists but "
              "nr_slabs says %llu (a slab is on no list, or on two)",
              cache.name, static_cast<unsigned long long>(slabs),
              static_cast<unsigned long long>(cache.nr_slabs));
  }
  if (inuse != cache.live_objects) {
    ReportBug(BugClass::kSlabCorruption, "slab.audit_cache_live_objects", "cache %s: slabs hold %llu objects "
              "but the cache counts %llu", cache.name,
              static_cast<unsigned long long>(inuse),
              static_cast<unsigned long long>(cache.live_objects));
  }
}

void SlabAllocator::AuditCaches(bool touched_only) const {
  for (int i = 0; i < slots_used_; ++i) {
    if (caches_[i].live) AuditCache(caches_[i], touched_only);
  }
}

}  // namespace reservoir
