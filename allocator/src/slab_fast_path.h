// The lockless cases of slab_alloc_node() and do_slab_free(), inline in
// the model's entry points and the slab allocator's own: an object taken
// from, or given back to, the CPU freelist of the caller's CPU, when
// nothing about the call is unusual. Everything else (a fault hook, a CPU
// number to wrap, __GFP_ZERO, a reserve slab, an empty freelist, another
// CPU's slab, and every pointer that fails a check) returns null / false
// before anything is changed, and the full path then runs from the start:
// it takes every other way and makes every report, with the same class
// and place as before.
#pragma once

#include "fast_path.h"
#include "free_pointer.h"
#include "reservoir/slab_allocator.h"
#include "sanitizer.h"

namespace reservoir {

RESERVOIR_ALWAYS_INLINE void SlabAllocator::AuditSlabFast(const KmemCache& cache,
                                         Pfn slab_pfn) const {
  const Slab& slab = slabs_[slab_pfn];
  const PageFrame& head = pages_->frame(slab_pfn);
  const bool ok =
      (head.flags & kPageSlab) && head.owner == uint32_t{cache.id} + 1u &&
      slab.cache_id == cache.id && slab.inuse <= slab.objects &&
      slab.pfmemalloc == static_cast<bool>(head.flags & kPagePfmemalloc) &&
      (slab.place != SlabPlace::kCpuActive ||
       cache.cpu[slab.cpu].slab == slab_pfn);
  if (!ok) [[unlikely]] AuditSlab(cache, slab_pfn);
}

RESERVOIR_ALWAYS_INLINE void* SlabAllocator::AllocFast(KmemCache* cache,
                                      const AllocContext& ctx,
                                      size_t alloc_size,
                                      SlabAllocInfo* info) {
  // No failslab to ask, no CPU number to wrap (CpuIndex), no zeroing.
  if (gate_->armed() || ctx.cpu >= nr_cpus_ || (ctx.gfp & kGfpZero)) {
    return nullptr;
  }
  KmemCacheCpu& c = cache->cpu[ctx.cpu];
  void* const object = c.freelist;
  const Pfn slab_pfn = c.slab;
  if (slab_pfn == kNoPfn || object == nullptr) return nullptr;
  Slab& slab = slabs_[slab_pfn];
  // A reserve slab needs pfmemalloc_match() (and the policy's second
  // attempt): SlabAllocOnce(). On any other slab both policies and every
  // caller get the object the same way, with the same checks.
  if (slab.pfmemalloc) return nullptr;
  const size_t offset = static_cast<uint8_t*>(object) -
                        static_cast<uint8_t*>(pages_->PageAddress(slab_pfn));
  const uint32_t index = ObjectIndex(*cache, slab.objects, offset);
  if (index == kNotAnObject) return nullptr;  // TakeFromCpuFreelist reports
  uint64_t& word = slab.in_use_map[index / 64];
  const uint64_t bit = uint64_t{1} << (index % 64);
  if (word & bit) return nullptr;             // TakeFromCpuFreelist reports
  ++cache->stats.alloc_fastpath;
  slab.audited = false;  // Slab::audited: the object walk reads these
  c.freelist = GetFreePointer(object);
  word |= bit;
  ++slab.inuse;
  ++cache->live_objects;
  last_alloc_path_ = kSlabPathCpuFreelist;
  if (info != nullptr) {
    info->slab = slab_pfn;
    info->from_reserve = false;
    info->new_reserve_slab = false;
    info->injected = false;
    info->path = kSlabPathCpuFreelist;
  }
  UnpoisonForCaller(object, alloc_size, /*zeroed=*/false);
  if (audit_->cheap()) AuditSlabFast(*cache, slab_pfn);
  return object;
}

RESERVOIR_ALWAYS_INLINE void* SlabAllocator::KmallocFast(size_t size, const AllocContext& ctx,
                                        SlabAllocInfo* info) {
  if (size == 0 || size > kKmallocMaxCacheSize) return nullptr;
  return AllocFast(&caches_[KmallocIndexInline(size)], ctx, size, info);
}

RESERVOIR_ALWAYS_INLINE void* SlabAllocator::CacheAllocFast(KmemCache* cache,
                                           const AllocContext& ctx,
                                           SlabAllocInfo* info) {
  if (cache == nullptr || !cache->live) return nullptr;
  return AllocFast(cache, ctx, cache->object_size, info);
}

RESERVOIR_ALWAYS_INLINE bool SlabAllocator::FreeFast(KmemCache* expected, const void* object,
                                    uint16_t cpu) {
  if (cpu >= nr_cpus_) return false;
  // LookupObject()'s checks, each leaving to the full path when it fails.
  const Pfn head = pages_->AllocatedHeadOfInline(object);
  if (head == kNoPfn) return false;
  const PageFrame& frame = pages_->frame(head);
  if (!(frame.flags & kPageSlab)) {
    if (expected != nullptr) return false;  // CacheFree() reports it
    // kfree() of a block that is not a slab: Kfree() goes straight to
    // FreeLarge() after the lookup; so does this, without a second one.
    FreeLarge(head, object);
    return true;
  }
  KmemCache* cache;
  if (expected == nullptr) {
    cache = &caches_[frame.owner - 1];
  } else {
    if (frame.owner != uint32_t{expected->id} + 1u) return false;
    cache = expected;
  }
  KmemCacheCpu& c = cache->cpu[cpu];
  if (c.slab != head) return false;  // SlabFreeObject()'s slow path
  Slab& slab = slabs_[head];
  const size_t offset =
      static_cast<const uint8_t*>(object) -
      static_cast<const uint8_t*>(pages_->PageAddress(head));
  const uint32_t index =
      ObjectIndex(*cache, slab.objects, offset);
  if (index == kNotAnObject) return false;  // interior pointer
  uint64_t& word = slab.in_use_map[index / 64];
  const uint64_t bit = uint64_t{1} << (index % 64);
  if (!(word & bit)) return false;          // already free
  // SlabFreeObject()'s fast path.
  slab.audited = false;  // Slab::audited: the object walk reads these
  word &= ~bit;
  --slab.inuse;
  --cache->live_objects;
  void* const free_object = const_cast<void*>(object);
  UnpoisonForAllocator(free_object, sizeof(void*));
  SetFreePointer(free_object, c.freelist);
  c.freelist = free_object;
  PoisonMemory(free_object, cache->size);
  ++cache->stats.free_fastpath;
  if (audit_->cheap()) AuditSlabFast(*cache, head);
  return true;
}

}  // namespace reservoir
