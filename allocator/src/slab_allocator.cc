// Caches, kmalloc, object lookup and reset of the slab layer.
#include "reservoir/slab_allocator.h"

#include <cstdlib>
#include <cstring>

#include "reservoir/report.h"
#include "reservoir/unsteered.h"
#include "sanitizer.h"
#include "slab_fast_path.h"

namespace reservoir {
namespace {

constexpr uint32_t kKmallocSizes[kKmallocClasses] = {
    8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192};
constexpr const char* kKmallocNames[kKmallocClasses] = {
    "kmalloc-8",   "kmalloc-16",   "kmalloc-32",   "kmalloc-64",
    "kmalloc-96",  "kmalloc-128",  "kmalloc-192",  "kmalloc-256",
    "kmalloc-512", "kmalloc-1024", "kmalloc-2048", "kmalloc-4096",
    "kmalloc-8192"};
constexpr uint32_t kMinAlign = 8;  // ARCH_KMALLOC_MINALIGN; the free pointer

}  // namespace

int KmallocIndex(size_t size) { return KmallocIndexInline(size); }

uint32_t KmallocClassSize(int index) { return kKmallocSizes[index]; }

SlabAllocator::SlabAllocator(const ModelConfig& config, PageAllocator* pages,
                             FaultGate* gate)
    : pages_(pages),
      gate_(gate),
      policy_(config.slab_policy),
      nr_cpus_(config.nr_cpus),
      max_order_(config.max_order) {
  own_audit_.level = config.audit;
  // Indexed by head pfn; anonymous zeroed memory, touched only where slabs
  // are made.
  slabs_ = static_cast<Slab*>(std::calloc(pages->capacity_pages(), sizeof(Slab)));
  if (slabs_ == nullptr) std::abort();
  Reset();
}

SlabAllocator::~SlabAllocator() {
  std::free(slabs_);
  for (auto& per_cpus : kmalloc_templates_) {
    for (KmallocTemplates* templates : per_cpus) delete templates;
  }
}

void SlabAllocator::InitCache(KmemCache* cache, uint16_t id, const char* name,
                              uint32_t size, uint32_t align, bool is_kmalloc) {
  *cache = KmemCache{};
  std::strncpy(cache->name, name, kCacheNameSize - 1);
  cache->id = id;
  cache->live = true;
  cache->is_kmalloc = is_kmalloc;
  cache->object_size = size;
  cache->align = align < kMinAlign ? kMinAlign : align;
  cache->size = (size + cache->align - 1) & ~(cache->align - 1);
  cache->reciprocal_size = ReciprocalSize(cache->size);
  const SlabGeometry g = CalculateSlabGeometry(cache->size, nr_cpus_,
                                               max_order_);
  cache->order = g.order;
  cache->min_order = g.min_order;
  cache->objects = g.objects;
  cache->min_objects = g.min_objects;
  cache->cpu_partial_slabs = g.cpu_partial_slabs;
  cache->min_partial = g.min_partial;
}

// Unsteered: how many slots there are to clear, and which of them are
// live, is what the previous user of the model left behind, not anything
// of the next one's (reservoir/unsteered.h); the kmalloc templates are
// built before the first input (ModelPool), so InitCache never runs here
// while fuzzing.
RESERVOIR_UNSTEERED void SlabAllocator::Reset() {
  // In time proportional to what was used: a slot that is not live was
  // cleared when its cache was destroyed (or never used), and the kmalloc
  // caches come from templates built once per CPU count and max order.
  for (int i = kKmallocClasses; i < slots_used_; ++i) {
    if (caches_[i].live) caches_[i] = KmemCache{};
  }
  slots_used_ = kKmallocClasses;
  for (uint32_t& generation : generations_) generation = 0;
  KmallocTemplates*& templates = kmalloc_templates_[nr_cpus_][max_order_];
  if (templates == nullptr) {
    templates = new KmallocTemplates;
    for (int i = 0; i < kKmallocClasses; ++i) {
      InitCache(&templates->caches[i], static_cast<uint16_t>(i),
                kKmallocNames[i], kKmallocSizes[i], kMinAlign,
                /*is_kmalloc=*/true);
    }
  }
  for (int i = 0; i < kKmallocClasses; ++i) caches_[i] = templates->caches[i];
}

void SlabAllocator::Reconfigure(const ModelConfig& config) {
  policy_ = config.slab_policy;
  own_audit_.level = config.audit;
  nr_cpus_ = config.nr_cpus;
  max_order_ = config.max_order;
  Reset();
}

KmemCache* SlabAllocator::CacheCreate(const char* name, uint32_t size,
                                      uint32_t align) {
  if (size == 0 || size > kKmallocMaxCacheSize) return nullptr;
  if (align != 0 && (align & (align - 1)) != 0) return nullptr;
  if (align > kPageSize) return nullptr;
  // A cache whose slot does not fit the largest slab order is unusable.
  const uint32_t slot = (size + (align < kMinAlign ? kMinAlign : align) - 1) &
                        ~((align < kMinAlign ? kMinAlign : align) - 1);
  if ((kPageSize << max_order_) < slot) return nullptr;
  for (int i = kKmallocClasses; i < kMaxCaches; ++i) {
    if (!caches_[i].live) {
      InitCache(&caches_[i], static_cast<uint16_t>(i), name, size, align,
                /*is_kmalloc=*/false);
      caches_[i].generation = ++generations_[i];
      if (i >= slots_used_) slots_used_ = i + 1;
      return &caches_[i];
    }
  }
  return nullptr;
}

bool SlabAllocator::CacheDestroy(KmemCache* cache) {
  if (cache == nullptr || !cache->live || cache->is_kmalloc) return false;
  if (cache->live_objects != 0) return false;
  CacheShrink(cache);
  if (cache->nr_slabs != 0) {
    ReportBug(BugClass::kSlabCorruption, "slab.destroy_slabs_remain", "cache %s has no live objects but "
              "%llu slabs remain after shrinking", cache->name,
              static_cast<unsigned long long>(cache->nr_slabs));
  }
  *cache = KmemCache{};
  return true;
}

KmemCache* SlabAllocator::CacheById(uint16_t id) {
  if (id >= kMaxCaches || !caches_[id].live) return nullptr;
  return &caches_[id];
}

const KmemCache* SlabAllocator::CacheById(uint16_t id) const {
  if (id >= kMaxCaches || !caches_[id].live) return nullptr;
  return &caches_[id];
}

uint64_t SlabAllocator::nr_slabs() const {
  uint64_t total = 0;
  for (int i = 0; i < slots_used_; ++i) total += caches_[i].nr_slabs;
  return total;
}

uint64_t SlabAllocator::live_objects() const {
  uint64_t total = 0;
  for (int i = 0; i < slots_used_; ++i) total += caches_[i].live_objects;
  return total;
}

// ---------------------------------------------------------------------------
// kmalloc.

void* SlabAllocator::CacheAlloc(KmemCache* cache, const AllocContext& ctx,
                                const char* call_site, SlabAllocInfo* info) {
  if (void* object = CacheAllocFast(cache, ctx, info)) return object;
  return CacheAllocSlow(cache, ctx, call_site, info);
}

void* SlabAllocator::CacheAllocSlow(KmemCache* cache, const AllocContext& ctx,
                                    const char* call_site,
                                    SlabAllocInfo* info) {
  SlabAllocInfo local;
  if (info == nullptr) info = &local;
  *info = SlabAllocInfo{};
  last_alloc_path_ = nullptr;
  if (cache == nullptr || !cache->live) return nullptr;
  return SlabAlloc(cache, ctx, call_site, cache->object_size, info);
}

void* SlabAllocator::Kmalloc(size_t size, const AllocContext& ctx,
                             const char* call_site, SlabAllocInfo* info) {
  if (void* object = KmallocFast(size, ctx, info)) return object;
  return KmallocSlow(size, ctx, call_site, info);
}

void* SlabAllocator::KmallocSlow(size_t size, const AllocContext& ctx,
                                 const char* call_site, SlabAllocInfo* info) {
  SlabAllocInfo local;
  if (info == nullptr) info = &local;
  *info = SlabAllocInfo{};
  last_alloc_path_ = kSlabPathLargeKmalloc;
  if (size == 0) return nullptr;
  const int index = KmallocIndex(size);
  if (index >= 0) {
    last_alloc_path_ = nullptr;
    return SlabAlloc(&caches_[index], ctx, call_site, size, info);
  }

  // kmalloc_large(): straight to the page allocator.
  int order = 0;
  while ((kPageSize << order) < size) ++order;
  if (order > max_order_) return nullptr;
  const PageAllocResult result = pages_->AllocPages(order, ctx, call_site);
  info->injected = result.injected;
  if (result.pfn == kNoPfn) return nullptr;
  pages_->mutable_frame(result.pfn).owner = kLargeKmallocOwner;
  info->slab = result.pfn;
  info->from_reserve = pages_->frame(result.pfn).flags & kPagePfmemalloc;
  info->path = kSlabPathLargeKmalloc;
  void* object = pages_->PageAddress(result.pfn);
  // Like KASAN: the bytes past the request stay unaddressable.
  PoisonMemory(static_cast<uint8_t*>(object) + size,
               (kPageSize << order) - size);
  return object;
}

Pfn SlabAllocator::LookupObject(const void* object, const char* api,
                                uint32_t* index_out) const {
  const Pfn head = pages_->AllocatedHeadOf(object);
  if (head == kNoPfn) {
    if (pages_->AddressToPfn(object) == kNoPfn) {
      ReportBug(BugClass::kInvalidFree, "slab.free_not_model_address", "%s(%p): not a model address", api,
                object);
    }
    ReportBug(BugClass::kDoubleFree, "slab.free_unallocated_memory", "%s(%p): the memory is not allocated "
              "(freed already, or never handed out)", api, object);
  }
  const PageFrame& frame = pages_->frame(head);
  if (!(frame.flags & kPageSlab)) return head;  // the caller handles it
  const KmemCache& cache = caches_[frame.owner - 1];
  const Slab& slab = slabs_[head];
  const size_t offset = static_cast<const uint8_t*>(object) -
                        static_cast<const uint8_t*>(pages_->PageAddress(head));
  const uint32_t index = ObjectIndex(cache, slab.objects, offset);
  if (index == kNotAnObject) {
    ReportBug(BugClass::kInvalidFree, "slab.free_interior_pointer", "%s(%p): interior pointer into %s "
              "(offset %zu, object size %u)", api, object, cache.name, offset,
              cache.size);
  }
  if (!(slab.in_use_map[index / 64] & (uint64_t{1} << (index % 64)))) {
    ReportBug(BugClass::kDoubleFree, "slab.free_object_already_free", "%s(%p): object %u of a %s slab is "
              "already free", api, object, index, cache.name);
  }
  *index_out = index;
  return head;
}

void SlabAllocator::FreeLarge(Pfn pfn, const void* object) {
  const PageFrame& frame = pages_->frame(pfn);
  if (frame.owner != kLargeKmallocOwner) {
    ReportBug(BugClass::kInvalidFree, "slab.kfree_of_page_block", "kfree(%p): the block at pfn %u came "
              "from alloc_pages, not kmalloc", object, pfn);
  }
  if (object != pages_->PageAddress(pfn)) {
    ReportBug(BugClass::kInvalidFree, "slab.kfree_large_interior_pointer", "kfree(%p): interior pointer into a "
              "large kmalloc block at pfn %u", object, pfn);
  }
  pages_->FreePages(pfn, frame.order, kLargeKmallocOwner);
}

void SlabAllocator::Kfree(const void* object, uint16_t cpu) {
  if (object == nullptr || FreeFast(nullptr, object, cpu)) return;
  KfreeSlow(object, cpu);
}

void SlabAllocator::KfreeSlow(const void* object, uint16_t cpu) {
  uint32_t index = 0;
  const Pfn head = LookupObject(object, "kfree", &index);
  const PageFrame& frame = pages_->frame(head);
  if (!(frame.flags & kPageSlab)) {
    FreeLarge(head, object);
    return;
  }
  KmemCache* cache = &caches_[frame.owner - 1];
  SlabFreeObject(cache, head, index, const_cast<void*>(object),
                 CpuIndex(cpu));
}

void SlabAllocator::CacheFree(KmemCache* cache, const void* object,
                              uint16_t cpu) {
  if (object == nullptr) return;
  if (cache != nullptr && FreeFast(cache, object, cpu)) return;
  CacheFreeSlow(cache, object, cpu);
}

void SlabAllocator::CacheFreeSlow(KmemCache* cache, const void* object,
                                  uint16_t cpu) {
  uint32_t index = 0;
  const Pfn head = LookupObject(object, "kmem_cache_free", &index);
  const PageFrame& frame = pages_->frame(head);
  if (!(frame.flags & kPageSlab)) {
    ReportBug(BugClass::kInvalidFree, "slab.cache_free_not_slab_object", "kmem_cache_free(%s, %p): not a slab "
              "object", cache ? cache->name : "null", object);
  }
  if (cache == nullptr || frame.owner != uint32_t{cache->id} + 1u) {
    ReportBug(BugClass::kInvalidFree, "slab.cache_free_wrong_cache", "kmem_cache_free(%s, %p): the object "
              "belongs to cache %s", cache ? cache->name : "null", object,
              caches_[frame.owner - 1].name);
  }
  SlabFreeObject(cache, head, index, const_cast<void*>(object),
                 CpuIndex(cpu));
}

size_t SlabAllocator::Ksize(const void* object) const {
  if (object == nullptr) return 0;
  uint32_t index = 0;
  const Pfn head = LookupObject(object, "ksize", &index);
  const PageFrame& frame = pages_->frame(head);
  size_t size;
  if (frame.flags & kPageSlab) {
    size = caches_[frame.owner - 1].object_size;
  } else {
    size = static_cast<size_t>(kPageSize) << frame.order;
  }
  // ksize() promises the whole size is usable, so it becomes addressable.
  UnpoisonForAllocator(const_cast<void*>(object), size);
  return size;
}

void SlabAllocator::ShrinkAll() {
  for (int i = 0; i < slots_used_; ++i) {
    if (caches_[i].live) CacheShrink(&caches_[i]);
  }
}

// ---------------------------------------------------------------------------
// Test-only corruption.

void SlabAllocator::CorruptInuseForTesting(Pfn slab_pfn, int delta) {
  slabs_[slab_pfn].inuse = static_cast<uint16_t>(slabs_[slab_pfn].inuse + delta);
  slabs_[slab_pfn].audited = false;  // Slab::audited
}

void SlabAllocator::TagSlabForTesting(Pfn slab_pfn) {
  slabs_[slab_pfn].pfmemalloc = true;
  slabs_[slab_pfn].audited = false;  // Slab::audited
}

void SlabAllocator::UntagSlabForTesting(Pfn slab_pfn) {
  slabs_[slab_pfn].pfmemalloc = false;
  slabs_[slab_pfn].audited = false;  // Slab::audited
  pages_->ClearTagForTesting(slab_pfn);
}

void* SlabAllocator::TakeFromActiveSlabForTesting(KmemCache* cache,
                                                  const AllocContext& ctx) {
  const int cpu = CpuIndex(ctx.cpu);
  if (cache->cpu[cpu].slab == kNoPfn || cache->cpu[cpu].freelist == nullptr)
    return nullptr;
  SlabAllocInfo info;
  return TakeFromCpuFreelist(cache, cpu, IsEntitled(ctx), ctx,
                             cache->object_size, &info, kSlabPathTesting);
}

}  // namespace reservoir
