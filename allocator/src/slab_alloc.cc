// The object allocation path of SLUB (slab_alloc_node / ___slab_alloc):
// per-CPU fast path, the active slab's remote frees, per-CPU partials, the
// node partial list, and a new slab; pfmemalloc_match() on every path.
#include <cstdio>
#include <cstring>

#include "reservoir/plant.h"
#include "reservoir/report.h"
#include "reservoir/slab_allocator.h"
#include "fast_path.h"
#include "free_pointer.h"
#include "sanitizer.h"
#include "slab_fast_path.h"

namespace reservoir {

// slab_pre_alloc_hook(): failslab decides before anything is touched. Out
// of line: the FaultCall is built only when a hook is installed.
RESERVOIR_NOINLINE bool SlabAllocator::SlabObjectFaultInjected(
    KmemCache* cache, const AllocContext& ctx, const char* call_site,
    size_t alloc_size, SlabAllocInfo* info) {
  FaultCall call;
  call.site = FaultSite::kSlabObject;
  call.gfp = ctx.gfp;
  call.in_softirq = ctx.in_softirq;
  call.size = alloc_size;
  call.cache = cache->name;
  call.call_site = call_site;
  if (!gate_->ShouldFail(call)) return false;
  info->injected = true;
  ++cache->stats.alloc_fail;
  return true;
}

void* SlabAllocator::SlabAlloc(KmemCache* cache, const AllocContext& ctx,
                               const char* call_site, size_t alloc_size,
                               SlabAllocInfo* info) {
  // slab_pre_alloc_hook(): failslab decides before anything is touched.
  if (RESERVOIR_UNLIKELY(gate_->armed()) &&
      SlabObjectFaultInjected(cache, ctx, call_site, alloc_size, info)) {
    return nullptr;
  }
  const bool entitled = IsEntitled(ctx);
  if (policy_ == SlabPolicy::kPageTag || !entitled) {
    return SlabAllocOnce(cache, ctx, entitled, call_site, alloc_size, info);
  }
  // No mixing: first exactly what an unentitled caller could get.
  AllocContext normal = ctx;
  normal.gfp |= kGfpNoMemalloc;
  void* object =
      SlabAllocOnce(cache, normal, false, call_site, alloc_size, info);
  if (object != nullptr) return object;
  const bool injected = info->injected;
  object = SlabAllocOnce(cache, ctx, true, call_site, alloc_size, info);
  info->injected |= injected;
  return object;
}

void* SlabAllocator::SlabAllocOnce(KmemCache* cache, const AllocContext& ctx,
                                   bool reserve_ok, const char* call_site,
                                   size_t alloc_size, SlabAllocInfo* info) {
  const int cpu = CpuIndex(ctx.cpu);
  KmemCacheCpu& c = cache->cpu[cpu];

  // Fast path: the CPU's lockless freelist.
  if (c.slab != kNoPfn && c.freelist != nullptr) {
    bool match = PfmemallocMatch(slabs_[c.slab], reserve_ok);
    // PLANT(fastpath_skips_match): the per-CPU fast path hands out objects
    // without pfmemalloc_match() (Linux 3.6, fixed by commit 5091b74a).
    if (RESERVOIR_PLANTED(fastpath_skips_match)) match = true;
    if (match) {
      ++cache->stats.alloc_fastpath;
      return TakeFromCpuFreelist(cache, cpu, reserve_ok, ctx, alloc_size,
                                 info, kSlabPathCpuFreelist);
    }
  }
  return SlabAllocSlow(cache, cpu, ctx, reserve_ok, call_site, alloc_size,
                       info);
}

// ___slab_alloc(): everything but the CPU freelist, out of line.
RESERVOIR_NOINLINE void* SlabAllocator::SlabAllocSlow(
    KmemCache* cache, int cpu, const AllocContext& ctx, bool reserve_ok,
    const char* call_site, size_t alloc_size, SlabAllocInfo* info) {
  KmemCacheCpu& c = cache->cpu[cpu];
  ++cache->stats.alloc_slowpath;

  if (c.slab != kNoPfn) {
    Slab& active = slabs_[c.slab];
    if (!PfmemallocMatch(active, reserve_ok)) {
      // A reserve slab met by a caller who may not use it: let it go and
      // find another (a fresh one at normal watermarks ends the pressure).
      ++cache->stats.deactivate_mismatch;
      DeactivateSlab(cache, cpu);
    } else if (c.freelist == nullptr && active.freelist != nullptr) {
      // get_freelist(): objects freed remotely into the active slab.
      active.audited = false;  // Slab::audited: its free lists change
      c.freelist = active.freelist;
      active.freelist = nullptr;
      return TakeFromCpuFreelist(cache, cpu, reserve_ok, ctx, alloc_size,
                                 info, kSlabPathRemoteFrees);
    } else if (c.freelist == nullptr) {
      DeactivateSlab(cache, cpu);  // full
    }
  }

  // Per-CPU partial slabs; a mismatched one goes back to the node.
  while (c.partial != kNoPfn) {
    const Pfn candidate = c.partial;
    ListDel(&c.partial, candidate);
    --c.nr_partial;
    Slab& slab = slabs_[candidate];
    if (PfmemallocMatch(slab, reserve_ok)) {
      LoadFreelist(cache, cpu, candidate);
      return TakeFromCpuFreelist(cache, cpu, reserve_ok, ctx, alloc_size,
                                 info, kSlabPathCpuPartial);
    }
    slab.place = SlabPlace::kNodePartial;
    ListAdd(&cache->node_partial, candidate);
    ++cache->nr_node_partial;
  }

  const Pfn partial = GetPartialNode(cache, reserve_ok);
  if (partial != kNoPfn) {
    LoadFreelist(cache, cpu, partial);
    return TakeFromCpuFreelist(cache, cpu, reserve_ok, ctx, alloc_size, info,
                               kSlabPathNodePartial);
  }

  const Pfn fresh = NewSlab(cache, ctx, call_site, info);
  if (fresh == kNoPfn) {
    ++cache->stats.alloc_fail;
    return nullptr;
  }
  LoadFreelist(cache, cpu, fresh);
  return TakeFromCpuFreelist(cache, cpu, reserve_ok, ctx, alloc_size, info,
                             kSlabPathNewSlab);
}

void* SlabAllocator::TakeFromCpuFreelist(KmemCache* cache, int cpu,
                                         bool reserve_ok,
                                         const AllocContext& ctx,
                                         size_t alloc_size,
                                         SlabAllocInfo* info,
                                         const char* path) {
  KmemCacheCpu& c = cache->cpu[cpu];
  void* object = c.freelist;
  Slab& slab = slabs_[c.slab];
  const size_t offset = static_cast<uint8_t*>(object) -
                        static_cast<uint8_t*>(pages_->PageAddress(c.slab));
  const uint32_t index = ObjectIndex(*cache, slab.objects, offset);
  if (index == kNotAnObject) {
    ReportBug(BugClass::kSlabCorruption, "slab.take_object_outside_slab", "cache %s: the CPU %d freelist "
              "points outside slab pfn %u (offset %zu)", cache->name, cpu,
              c.slab, offset);
  }
  uint64_t& word = slab.in_use_map[index / 64];
  const uint64_t bit = uint64_t{1} << (index % 64);
  if (word & bit) {
    ReportBug(BugClass::kSlabCorruption, "slab.take_object_in_use", "cache %s: object %u of slab pfn %u "
              "is on a freelist but in use", cache->name, index, c.slab);
  }
  if (audit_->cheap() && slab.pfmemalloc && !reserve_ok) {
    char place[64];
    std::snprintf(place, sizeof(place), "slab.take_object/%s", path);
    ReportBug(BugClass::kSlabMixing, place, "cache %s: an object of reserve slab pfn "
              "%u went to a caller without reserve access (cpu %d, gfp %#x, "
              "policy %s)", cache->name, c.slab, cpu, ctx.gfp,
              SlabPolicyName(policy_));
  }
  slab.audited = false;  // Slab::audited: the object walk reads these
  c.freelist = GetFreePointer(object);
  word |= bit;
  ++slab.inuse;
  ++cache->live_objects;
  info->slab = c.slab;
  info->from_reserve = slab.pfmemalloc;
  info->path = path;
  last_alloc_path_ = path;
  if (ctx.gfp & kGfpZero) {
    // __GFP_ZERO clears the whole object, as ksize() may hand all of it out;
    // only the request stays addressable.
    UnpoisonForAllocator(object, cache->object_size);
    std::memset(object, 0, cache->object_size);
    PoisonMemory(static_cast<uint8_t*>(object) + alloc_size,
                 cache->object_size - alloc_size);
  } else {
    UnpoisonForCaller(object, alloc_size, /*zeroed=*/false);
  }
  if (audit_->cheap()) AuditSlabFast(*cache, c.slab);
  return object;
}

void SlabAllocator::LoadFreelist(KmemCache* cache, int cpu, Pfn slab_pfn) {
  KmemCacheCpu& c = cache->cpu[cpu];
  Slab& slab = slabs_[slab_pfn];
  slab.audited = false;  // Slab::audited: its free lists change
  slab.place = SlabPlace::kCpuActive;
  slab.cpu = static_cast<uint8_t>(cpu);
  c.slab = slab_pfn;
  c.freelist = slab.freelist;
  slab.freelist = nullptr;
}

// get_partial_node(): the first node partial slab the caller may use.
Pfn SlabAllocator::GetPartialNode(KmemCache* cache, bool reserve_ok) {
  for (Pfn pfn = cache->node_partial; pfn != kNoPfn; pfn = slabs_[pfn].next) {
    bool match = PfmemallocMatch(slabs_[pfn], reserve_ok);
    // PLANT(partial_ignores_tag): the node partial list ignores the reserve
    // tag (fixed by "slub: consider pfmemalloc_match() in
    // get_partial_node()").
    if (RESERVOIR_PLANTED(partial_ignores_tag)) match = true;
    if (match) {
      ListDel(&cache->node_partial, pfn);
      --cache->nr_node_partial;
      return pfn;
    }
  }
  return kNoPfn;
}

// allocate_slab(): the preferred order without warnings, then the smallest
// order that holds one object. The slab inherits the page's reserve tag.
Pfn SlabAllocator::NewSlab(KmemCache* cache, const AllocContext& ctx,
                           const char* call_site, SlabAllocInfo* info) {
  if (gate_->armed()) {
    FaultCall call;
    call.site = FaultSite::kSlabNewSlab;
    call.gfp = ctx.gfp;
    call.in_softirq = ctx.in_softirq;
    call.order = cache->order;
    call.size = kPageSize << cache->order;
    call.cache = cache->name;
    call.call_site = call_site;
    if (gate_->ShouldFail(call)) {
      info->injected = true;
      return kNoPfn;
    }
  }
  AllocContext page_ctx = ctx;
  page_ctx.gfp &= ~kGfpZero;  // objects are zeroed one by one on request
  int order = cache->order;
  uint16_t objects = cache->objects;
  PageAllocResult result;
  if (cache->min_order != cache->order) {
    AllocContext first = page_ctx;
    first.gfp = (first.gfp | kGfpNoWarn) & ~kGfpNoFail;
    result = pages_->AllocPages(order, first, call_site);
  }
  if (result.pfn == kNoPfn && !result.injected) {
    order = cache->min_order;
    objects = cache->min_objects;
    result = pages_->AllocPages(order, page_ctx, call_site);
  }
  info->injected |= result.injected;
  if (result.pfn == kNoPfn) return kNoPfn;

  const Pfn pfn = result.pfn;
  PageFrame& head = pages_->mutable_frame(pfn);
  head.flags |= kPageSlab;
  head.owner = uint32_t{cache->id} + 1u;
  Slab& slab = slabs_[pfn];
  slab = Slab{};  // Slab::audited false: a new slab is walked
  slab.cache_id = cache->id;
  slab.objects = objects;
  slab.order = static_cast<uint8_t>(order);
  slab.pfmemalloc = head.flags & kPagePfmemalloc;
  // The free list in address order, then everything poisoned: free
  // objects and the slack at the end of the slab. Object i + 1 starts
  // `size` bytes after object i: one pointer steps through the slab (the
  // same free pointers as ObjectAt(i) -> ObjectAt(i + 1), the last one
  // null), without the per-object test for the last object and without
  // recomputing the slab's address for each (the store of a free pointer
  // may alias the page table as far as the compiler knows).
  uint8_t* const base = static_cast<uint8_t*>(pages_->PageAddress(pfn));
  if (objects > 0) {
    const size_t size = cache->size;
    uint8_t* object = base;
    for (uint32_t i = 1; i < objects; ++i) {
      uint8_t* const next = object + size;
      SetFreePointer(object, next);
      object = next;
    }
    SetFreePointer(object, nullptr);
  }
  slab.freelist = base;
  PoisonMemory(pages_->PageAddress(pfn), kPageSize << order);
  ++cache->nr_slabs;
  ++cache->stats.new_slabs;
  if (slab.pfmemalloc) {
    ++cache->stats.reserve_slabs;
    info->new_reserve_slab = true;
  }
  return pfn;
}

}  // namespace reservoir
