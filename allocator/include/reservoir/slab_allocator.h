// Layer 2: the SLUB-like slab allocator and kmalloc on top of the page
// allocator (mm/slub.c, mm/slab_common.c).
#pragma once

#include <cstddef>
#include <cstdint>

#include "reservoir/config.h"
#include "reservoir/fault_gate.h"
#include "reservoir/kmem_cache.h"
#include "reservoir/page_allocator.h"

namespace reservoir {

// kmalloc size classes: powers of two from 8 to 8192 plus 96 and 192.
inline constexpr int kKmallocClasses = 13;
inline constexpr uint32_t kKmallocMaxCacheSize = 8192;
// The kernel's size_index[]: the class of sizes up to 192 by (size - 1) / 8
// (the 96 and 192 classes sit between 64/128 and 128/256); above that the
// classes are powers of two.
inline constexpr int8_t kKmallocSizeIndex[24] = {
    0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6};
// Index 0..12 of the class for `size` (1..8192), -1 above.
// KmallocIndexInline() is the same, for the allocator's own fast path; the
// out-of-line one keeps callers in other files (built with comparison
// tracing under libFuzzer) from tracing its comparisons.
inline int KmallocIndexInline(size_t size) {
  if (size == 0 || size > kKmallocMaxCacheSize) return -1;
  if (size <= 192) return kKmallocSizeIndex[(size - 1) / 8];
  // 193..256 -> 7 (kmalloc-256), ..., 4097..8192 -> 12 (kmalloc-8192).
  return 31 - __builtin_clz(static_cast<uint32_t>(size - 1));
}
int KmallocIndex(size_t size);
uint32_t KmallocClassSize(int index);

// What one object allocation did, for the reserve wrappers and oracles.
struct SlabAllocInfo {
  Pfn slab = kNoPfn;        // the slab (or large kmalloc block) head
  bool from_reserve = false;  // the object sits on reserve (pfmemalloc) memory
  bool new_reserve_slab = false;  // a new reserve slab had to be made
  bool injected = false;    // a fault was injected on the way
  // The path the object came by (a kSlabPath* name), null for none.
  const char* path = nullptr;
};

// The allocation paths of SlabAllocOnce, as named in report places
// (slab.take_object/<path>) and by SlabAllocator::last_alloc_path().
inline constexpr const char* kSlabPathCpuFreelist = "cpu-freelist";
inline constexpr const char* kSlabPathRemoteFrees = "remote-frees";
inline constexpr const char* kSlabPathCpuPartial = "cpu-partial";
inline constexpr const char* kSlabPathNodePartial = "node-partial";
inline constexpr const char* kSlabPathNewSlab = "new-slab";
inline constexpr const char* kSlabPathLargeKmalloc = "large-kmalloc";
inline constexpr const char* kSlabPathTesting = "testing";

class SlabAllocator {
 public:
  SlabAllocator(const ModelConfig& config, PageAllocator* pages,
                FaultGate* gate);
  ~SlabAllocator();
  SlabAllocator(const SlabAllocator&) = delete;
  SlabAllocator& operator=(const SlabAllocator&) = delete;

  // kmem_cache_create(): null when no slot is free or the shape is
  // unusable (size 0, above kKmallocMaxCacheSize, align not a power of 2).
  KmemCache* CacheCreate(const char* name, uint32_t size, uint32_t align);
  // kmem_cache_destroy(): false (and nothing destroyed) while objects live.
  bool CacheDestroy(KmemCache* cache);
  // Null for an id that is not a live cache.
  KmemCache* CacheById(uint16_t id);
  const KmemCache* CacheById(uint16_t id) const;

  // kmem_cache_alloc(): null on failure (never a report).
  void* CacheAlloc(KmemCache* cache, const AllocContext& ctx,
                   const char* call_site, SlabAllocInfo* info = nullptr);
  // kmem_cache_free() on `cpu`: misuse is reported (invalid-free,
  // double-free), including an object of another cache.
  void CacheFree(KmemCache* cache, const void* object, uint16_t cpu = 0);

  // kmalloc() / kfree() / ksize(). Sizes above 8192 go to the page
  // allocator as one block. kmalloc(0) returns null.
  void* Kmalloc(size_t size, const AllocContext& ctx, const char* call_site,
                SlabAllocInfo* info = nullptr);
  void Kfree(const void* object, uint16_t cpu = 0);
  // The usable size; like KASAN, makes all of it addressable. Reports
  // invalid-free style misuse for a pointer that is not a live object.
  size_t Ksize(const void* object) const;
  KmemCache* KmallocCache(int index) { return &caches_[index]; }

  // kmem_cache_shrink(): flush every CPU slab and partial list and discard
  // every empty slab.
  void CacheShrink(KmemCache* cache);
  void ShrinkAll();

  // Back to right after construction: user caches gone, kmalloc caches
  // empty. The page allocator is reset separately.
  void Reset();
  // Reset() under a new config: policy, audit level, CPU count and
  // max_order (hence slab geometry) follow it.
  void Reconfigure(const ModelConfig& config);
  // Reads the audit level from `schedule` (the model's) from now on.
  void UseAuditSchedule(const AuditSchedule* schedule) { audit_ = schedule; }
  void set_audit_level(AuditLevel level) { own_audit_.level = level; }

  const Slab& slab(Pfn pfn) const { return slabs_[pfn]; }
  // The path (a kSlabPath* name) of the last successful Kmalloc or
  // CacheAlloc, for an oracle outside that names it in its report; null
  // when the last call failed before taking an object.
  const char* last_alloc_path() const { return last_alloc_path_; }
  uint64_t nr_slabs() const;
  uint64_t live_objects() const;
  SlabPolicy policy() const { return policy_; }
  int nr_cpus() const { return nr_cpus_; }

  // Audit. Cheap: the slab an operation touched. Full: every cache, every
  // slab, and the objects of every slab. Touched-only: every cache and
  // every slab, but the objects only of slabs changed since a full audit
  // last walked them (Slab::audited); it marks what it walked.
  void AuditSlab(const KmemCache& cache, Pfn slab_pfn) const;
  void AuditFull() const { AuditCaches(/*touched_only=*/false); }
  void AuditTouched() const { AuditCaches(/*touched_only=*/true); }

  // Test-only corruption hooks for death tests.
  void CorruptInuseForTesting(Pfn slab_pfn, int delta);
  void TagSlabForTesting(Pfn slab_pfn);
  // A reserve slab loses its tag (slab and page, counters kept consistent).
  void UntagSlabForTesting(Pfn slab_pfn);
  // Hands out the next object of ctx.cpu's active slab the way the fast
  // path does but without pfmemalloc_match() (the Linux 3.6 bug), so a
  // death test can reach the slab-mixing check, which no correct path
  // can. Null when that CPU has no object on its freelist.
  void* TakeFromActiveSlabForTesting(KmemCache* cache, const AllocContext& ctx);

 private:
  // The fast paths (slab_fast_path.h, inline in the allocator's own
  // sources and the model's entry points): the CPU freelist when nothing
  // is unusual, null / false otherwise with nothing changed, so that the
  // full path runs from the start, takes every other way and makes every
  // report. `info` may be null.
  friend class Model;
  inline void* AllocFast(KmemCache* cache, const AllocContext& ctx,
                         size_t alloc_size, SlabAllocInfo* info);
  inline void* KmallocFast(size_t size, const AllocContext& ctx,
                           SlabAllocInfo* info);
  inline void* CacheAllocFast(KmemCache* cache, const AllocContext& ctx,
                              SlabAllocInfo* info);
  // `expected` null: kfree(); else kmem_cache_free(expected, ...).
  inline bool FreeFast(KmemCache* expected, const void* object, uint16_t cpu);
  // AuditSlab()'s tests inline; AuditSlab() itself (which reports) only
  // when one of them fails.
  inline void AuditSlabFast(const KmemCache& cache, Pfn slab_pfn) const;

  void InitCache(KmemCache* cache, uint16_t id, const char* name,
                 uint32_t size, uint32_t align, bool is_kmalloc);
  void* SlabAlloc(KmemCache* cache, const AllocContext& ctx,
                  const char* call_site, size_t alloc_size,
                  SlabAllocInfo* info);
  bool SlabObjectFaultInjected(KmemCache* cache, const AllocContext& ctx,
                               const char* call_site, size_t alloc_size,
                               SlabAllocInfo* info);
  // The fast path (the CPU freelist) and, out of line, everything else.
  void* SlabAllocOnce(KmemCache* cache, const AllocContext& ctx,
                      bool reserve_ok, const char* call_site,
                      size_t alloc_size, SlabAllocInfo* info);
  void* SlabAllocSlow(KmemCache* cache, int cpu, const AllocContext& ctx,
                      bool reserve_ok, const char* call_site,
                      size_t alloc_size, SlabAllocInfo* info);
  // `path` (a kSlabPath* name) says how the object reached the CPU
  // freelist; a broken check names it in its report place.
  void* TakeFromCpuFreelist(KmemCache* cache, int cpu, bool reserve_ok,
                            const AllocContext& ctx, size_t alloc_size,
                            SlabAllocInfo* info, const char* path);
  bool PfmemallocMatch(const Slab& slab, bool reserve_ok) const {
    return !slab.pfmemalloc || reserve_ok;
  }
  Pfn NewSlab(KmemCache* cache, const AllocContext& ctx,
              const char* call_site, SlabAllocInfo* info);
  void LoadFreelist(KmemCache* cache, int cpu, Pfn slab_pfn);
  Pfn GetPartialNode(KmemCache* cache, bool reserve_ok);
  void DeactivateSlab(KmemCache* cache, int cpu);
  // DeactivateSlab()'s report, out of line (it keeps the walk's loop
  // free of the report's argument set-up).
  [[noreturn]] void ReportCyclicCpuFreelist(const KmemCache& cache, int cpu,
                                            Pfn slab_pfn) const;
  void PlaceInactiveSlab(KmemCache* cache, Pfn slab_pfn);
  void PutCpuPartial(KmemCache* cache, Pfn slab_pfn, int cpu);
  void UnfreezePartials(KmemCache* cache, int cpu);
  void DiscardSlab(KmemCache* cache, Pfn slab_pfn);
  void SlabFreeObject(KmemCache* cache, Pfn slab_pfn, uint32_t index,
                      void* object, int cpu);
  // Validates a slab object pointer (reports misuse) and returns its slab.
  Pfn LookupObject(const void* object, const char* api,
                   uint32_t* index_out) const;
  void FreeLarge(Pfn pfn, const void* object);
  // The entry points after their fast path declined (the model tries the
  // fast path itself first): the full path, with every report.
  void KfreeSlow(const void* object, uint16_t cpu);
  void* KmallocSlow(size_t size, const AllocContext& ctx,
                    const char* call_site, SlabAllocInfo* info);
  void* CacheAllocSlow(KmemCache* cache, const AllocContext& ctx,
                       const char* call_site, SlabAllocInfo* info);
  // `object` not null.
  void CacheFreeSlow(KmemCache* cache, const void* object, uint16_t cpu);
  void ListAdd(Pfn* head, Pfn slab_pfn);
  void ListDel(Pfn* head, Pfn slab_pfn);
  void* ObjectAt(Pfn slab_pfn, uint32_t index, const KmemCache& cache) const {
    return static_cast<uint8_t*>(pages_->PageAddress(slab_pfn)) +
           static_cast<size_t>(index) * cache.size;
  }
  int CpuIndex(uint16_t cpu) const { return cpu % nr_cpus_; }
  void AuditCaches(bool touched_only) const;
  void AuditCache(const KmemCache& cache, bool touched_only) const;
  bool CacheHoldsNothing(const KmemCache& cache) const;
  void AuditInUseCount(const KmemCache& cache, Pfn slab_pfn) const;
  // The walk of one slab's objects: the in-use count, its free list(s)
  // (`cpu_freelist` too while it is active) and in-use + free == objects;
  // skipped when `touched_only` and the slab is marked audited, marked
  // when it passes.
  void AuditObjects(const KmemCache& cache, Pfn slab_pfn, void* cpu_freelist,
                    bool active, bool touched_only) const;
  void AuditList(const KmemCache& cache, Pfn head, SlabPlace place, int cpu,
                 uint64_t expected, uint64_t* slabs, uint64_t* inuse,
                 bool touched_only) const;
  uint32_t CountFreelist(const KmemCache& cache, Pfn slab_pfn,
                         void* head) const;

  PageAllocator* pages_;
  FaultGate* gate_;
  SlabPolicy policy_;
  AuditSchedule own_audit_;
  const AuditSchedule* audit_ = &own_audit_;
  int nr_cpus_;
  int max_order_;
  const char* last_alloc_path_ = nullptr;
  KmemCache caches_[kMaxCaches];
  // Slots [slots_used_, kMaxCaches) have held no cache since the last reset
  // (CacheCreate() takes the lowest free slot): the loops over every cache
  // stop there.
  int slots_used_ = kKmallocClasses;
  uint32_t generations_[kMaxCaches] = {};
  // The kmalloc caches as InitCache() makes them, per CPU count and max
  // order, built on first use: a reset copies them instead of computing
  // the slab geometry of every class again.
  struct KmallocTemplates {
    KmemCache caches[kKmallocClasses];
  };
  KmallocTemplates* kmalloc_templates_[kMaxCpus + 1][kMaxOrderLimit + 1] = {};
  Slab* slabs_ = nullptr;  // indexed by head pfn; valid where PageSlab
};

}  // namespace reservoir
