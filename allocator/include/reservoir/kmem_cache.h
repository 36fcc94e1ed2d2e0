// struct kmem_cache and struct slab, SLUB-style: per-CPU active slab with a
// lockless freelist, per-CPU partial slabs, a node partial list kept at
// least `min_partial` long, and (for the audit, as SLUB does under
// debugging) a full list.
#pragma once

#include <cstddef>
#include <cstdint>

#include "reservoir/gfp.h"
#include "reservoir/page_frame.h"

namespace reservoir {

inline constexpr int kMaxCaches = 64;
inline constexpr int kCacheNameSize = 32;
inline constexpr int kMaxObjectsPerSlab = 512;  // bounds the in-use bitmap
inline constexpr int kSlubMaxOrder = 3;         // slub_max_order

// Where a slab is. Every slab is in exactly one place.
enum class SlabPlace : uint8_t {
  kNone,         // not a slab (or being built / torn down)
  kCpuActive,    // c->slab of one CPU; its free objects are c->freelist
  kCpuPartial,   // on one CPU's partial list
  kNodePartial,  // on the node partial list
  kFull,         // no free object, not active
};
const char* SlabPlaceName(SlabPlace place);

// struct slab, indexed by the head pfn of its pages.
struct Slab {
  Pfn next = kNoPfn;  // list link (node partial, cpu partial, full)
  Pfn prev = kNoPfn;
  uint16_t cache_id = 0;
  uint16_t objects = 0;   // object slots in this slab
  uint16_t inuse = 0;     // objects handed out to callers
  uint8_t order = 0;
  uint8_t cpu = 0;        // for kCpuActive / kCpuPartial
  SlabPlace place = SlabPlace::kNone;
  bool pfmemalloc = false;  // a reserve slab: built on a pfmemalloc page
  void* freelist = nullptr; // free objects not owned by a CPU freelist
  // The touched-only full audit (SlabAllocator::AuditTouched()) may skip
  // the walk of this slab's objects (the in-use bitmap's count, its free
  // lists, in-use + free == objects): set when a full audit walked them and
  // found nothing wrong, cleared by every path that changes what that walk
  // reads. Those are the object's fields `freelist`, `inuse`, `in_use_map`
  // and `objects`, the CPU freelist while the slab is active, and the free
  // pointers stored in its free objects, and the allocator changes them
  // only in TakeFromCpuFreelist / AllocFast (take an object),
  // SlabFreeObject / FreeFast (give one back), LoadFreelist and the
  // remote-frees case of SlabAllocSlow (a slab's freelist becomes a CPU's),
  // DeactivateSlab (back again), NewSlab (a fresh Slab{}: clear) and
  // DiscardSlab, plus the test-only corruption hooks: each of them clears
  // the mark. Lists, places, counts and tags are checked for every slab
  // by every full audit, marked or not. Memory written by a caller into a
  // free object (a use after free) passes through no allocator path: ASan
  // builds report it when it happens (free objects are poisoned), and the
  // complete walk that Model::AuditFull() and the teardown's pristine check
  // make at least once per input find it otherwise.
  bool audited = false;
  uint64_t in_use_map[kMaxObjectsPerSlab / 64] = {};  // handed-out objects
};

struct KmemCacheCpu {
  void* freelist = nullptr;  // free objects of the active slab
  Pfn slab = kNoPfn;         // the active slab
  Pfn partial = kNoPfn;      // head of the per-CPU partial list
  uint16_t nr_partial = 0;
};

struct KmemCacheStats {
  uint64_t alloc_fastpath = 0;
  uint64_t alloc_slowpath = 0;
  uint64_t alloc_fail = 0;
  uint64_t free_fastpath = 0;
  uint64_t free_slowpath = 0;
  uint64_t new_slabs = 0;
  uint64_t reserve_slabs = 0;
  uint64_t deactivate_mismatch = 0;  // reserve slab met by an unentitled caller
  uint64_t discarded_slabs = 0;
};

struct KmemCache {
  char name[kCacheNameSize] = {};
  uint16_t id = 0;
  // Counts the caches created in this slot since reset: an id is reused,
  // an (id, generation) pair names one cache for good.
  uint32_t generation = 0;
  bool live = false;
  bool is_kmalloc = false;
  uint32_t object_size = 0;  // what the creator asked for
  uint32_t size = 0;         // slot size: object_size aligned
  uint32_t align = 0;
  // obj_to_index() without a division: the index of the object at byte
  // `offset` of a slab is (offset * reciprocal_size) >> kReciprocalShift,
  // exact for every offset inside a slab (ObjectIndex()).
  uint64_t reciprocal_size = 0;
  uint8_t order = 0;         // preferred slab order (calculate_order)
  uint8_t min_order = 0;     // fallback order that still fits one object
  uint16_t objects = 0;      // objects in a slab of `order`
  uint16_t min_objects = 0;  // objects in a slab of `min_order`
  uint16_t cpu_partial_slabs = 0;  // per-CPU partial list bound
  uint16_t min_partial = 0;        // node partial slabs kept even if empty
  KmemCacheCpu cpu[kMaxCpus];
  Pfn node_partial = kNoPfn;
  uint32_t nr_node_partial = 0;
  Pfn full = kNoPfn;
  uint32_t nr_full = 0;
  uint64_t nr_slabs = 0;
  uint64_t live_objects = 0;
  KmemCacheStats stats;
};

// The slab shape SLUB would pick for `size` bytes on `nr_cpus` CPUs
// (calculate_order, set_cpu_partial, set_min_partial).
struct SlabGeometry {
  uint32_t size = 0;
  uint8_t order = 0;
  uint16_t objects = 0;
  uint8_t min_order = 0;
  uint16_t min_objects = 0;
  uint16_t cpu_partial_slabs = 0;
  uint16_t min_partial = 0;
};
SlabGeometry CalculateSlabGeometry(uint32_t size, int nr_cpus, int max_order);

// The reciprocal of a slot size for KmemCache::reciprocal_size. With
// m = ceil(2^35 / size) and size <= 2^13 (kKmallocMaxCacheSize), the
// error m * size - 2^35 is below size, so floor(n * m / 2^35) ==
// floor(n / size) for every n < 2^22 (no slab is larger: kPageSize <<
// kMaxOrderLimit), and n * m stays below 2^55.
inline constexpr int kReciprocalShift = 35;
constexpr uint64_t ReciprocalSize(uint32_t size) {
  return ((uint64_t{1} << kReciprocalShift) + size - 1) / size;
}

// The index of the object that starts at byte `offset` of a slab of
// `objects` slots of `cache`, or kNotAnObject when no object starts there
// (outside the slab, or inside an object). The same answer as
// `offset % size != 0 || offset / size >= objects`.
inline constexpr uint32_t kNotAnObject = UINT32_MAX;
inline uint32_t ObjectIndex(const KmemCache& cache, uint16_t objects,
                            size_t offset) {
  if (offset >= static_cast<size_t>(objects) * cache.size) return kNotAnObject;
  const uint32_t index = static_cast<uint32_t>(
      (offset * cache.reciprocal_size) >> kReciprocalShift);
  if (static_cast<size_t>(index) * cache.size != offset) return kNotAnObject;
  return index;
}

}  // namespace reservoir
