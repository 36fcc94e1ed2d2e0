// Layer 2: the SLUB-like slab allocator. Geometry expectations are computed
// by hand from mm/slub.c (calculate_order, calc_slab_order,
// set_cpu_partial, set_min_partial); path expectations from ___slab_alloc /
// __slab_free. The comments carry the arithmetic.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "reservoir/model.h"
#include "test_support.h"

namespace reservoir {
namespace {

using test::Exhaust;
using test::KernelCtx;
using test::MemallocCtx;
using test::SlabHeadOf;

ModelConfig SlabConfig(uint16_t cpus) {
  ModelConfig config;
  config.normal_pages = 4096;
  config.nr_cpus = cpus;
  config.audit = AuditLevel::kFull;
  return config;
}

// ---------------------------------------------------------------------------
// Geometry.

struct GeometryCase {
  uint32_t size;
  int cpus;
  int max_order;
  uint8_t order;
  uint16_t objects;
  uint8_t min_order;
  uint16_t min_objects;
  uint16_t cpu_partial_slabs;
  uint16_t min_partial;
};

// min_objects = 4 * (fls(cpus) + 1): 8 (1 CPU), 12 (2), 16 (4), capped by
// what fits the largest slab order, slub_max_order = min(3, max_order).
// The order is the first from get_order(min_objects * size) whose leftover
// is <= 1/16 of the slab (then 1/8, 1/4, then fewer objects).
// cpu_partial_slabs = ceil(2 * budget / objects), budget 120 (< 256 B),
// 52 (< 1 KiB), 24 (< 4 KiB), 6. min_partial = clamp(ilog2(size) / 2, 5, 10).
const GeometryCase kGeometryCases[] = {
    // 8: 8..16 objects * 8 B fit order 0 exactly: 512 objects.
    {8, 1, 10, 0, 512, 0, 512, 1, 5},   // ceil(240 / 512) = 1
    {8, 2, 10, 0, 512, 0, 512, 1, 5},
    {8, 4, 10, 0, 512, 0, 512, 1, 5},
    // 16 on 2 CPUs: 12 * 16 = 192 -> order 0, 256 objects.
    {16, 2, 10, 0, 256, 0, 256, 1, 5},
    // 96: 4096 % 96 = 64 <= 256 -> order 0, 42 objects; ceil(240/42) = 6.
    {96, 1, 10, 0, 42, 0, 42, 6, 5},
    {96, 2, 10, 0, 42, 0, 42, 6, 5},
    {96, 4, 10, 0, 42, 0, 42, 6, 5},    // 16 * 96 = 1536 still order 0
    // 192: 4096 % 192 = 64 -> order 0, 21 objects; ceil(240/21) = 12.
    {192, 1, 10, 0, 21, 0, 21, 12, 5},
    {192, 2, 10, 0, 21, 0, 21, 12, 5},
    {192, 4, 10, 0, 21, 0, 21, 12, 5},  // 16 * 192 = 3072 -> order 0
    // 512: 8 * 512 = 4096 -> order 0 (8 objects), ceil(104 / 8) = 13;
    // 12 or 16 * 512 > 4096 -> order 1 (16 objects), ceil(104 / 16) = 7.
    {512, 1, 10, 0, 8, 0, 8, 13, 5},
    {512, 2, 10, 1, 16, 0, 8, 7, 5},
    {512, 4, 10, 1, 16, 0, 8, 7, 5},
    // 1024: 8 KiB -> order 1 (8); 12 KiB / 16 KiB -> order 2 (16).
    {1024, 1, 10, 1, 8, 0, 4, 6, 5},    // ceil(48 / 8) = 6
    {1024, 2, 10, 2, 16, 0, 4, 3, 5},
    {1024, 4, 10, 2, 16, 0, 4, 3, 5},
    // 2048: 16 KiB -> order 2 (8); min(12, 16) * 2 KiB > 16 KiB -> order 3.
    {2048, 1, 10, 2, 8, 0, 2, 6, 5},
    {2048, 2, 10, 3, 16, 0, 2, 3, 5},
    {2048, 4, 10, 3, 16, 0, 2, 3, 5},
    // 4096: at most 32 KiB / 4 KiB = 8 objects -> order 3; fallback order
    // 0 with 1 object; ceil(12 / 8) = 2; ilog2 12 / 2 = 6.
    {4096, 1, 10, 3, 8, 0, 1, 2, 6},
    {4096, 2, 10, 3, 8, 0, 1, 2, 6},
    {4096, 4, 10, 3, 8, 0, 1, 2, 6},
    // 8192: 4 objects -> order 3; fallback get_order(8192) = 1, 1 object;
    // ceil(12 / 4) = 3; ilog2 13 / 2 = 6.
    {8192, 1, 10, 3, 4, 1, 1, 3, 6},
    {8192, 2, 10, 3, 4, 1, 1, 3, 6},
    {8192, 4, 10, 3, 4, 1, 1, 3, 6},
    // 700 (not a power of two): 8 * 700 = 5600 -> order 1: 8192 % 700 =
    // 492 <= 512 -> 11 objects; ceil(104 / 11) = 10. 2 CPUs: 8400 -> order
    // 2: 16384 % 700 = 284 <= 1024 -> 23 objects; ceil(104 / 23) = 5.
    {700, 1, 10, 1, 11, 0, 5, 10, 5},
    {700, 2, 10, 2, 23, 0, 5, 5, 5},
    {700, 4, 10, 2, 23, 0, 5, 5, 5},    // 16 * 700 = 11200 -> order 2
    // 3000: max 32768 / 3000 = 10 objects; order 3 leaves 2768 > 2048 (1/16
    // fails, order 4 is too big), <= 4096 (1/8 accepts): 10 objects.
    {3000, 1, 10, 3, 10, 0, 1, 5, 5},   // ceil(48 / 10) = 5
    {3000, 2, 10, 3, 10, 0, 1, 5, 5},
    // A small max_order caps slub_max_order: 4096 fits 2 per order-1 slab,
    // ceil(12 / 2) = 6; 8192 only 1 per order-1 slab, ceil(12 / 1) = 12.
    {4096, 1, 1, 1, 2, 0, 1, 6, 6},
    {4096, 2, 1, 1, 2, 0, 1, 6, 6},
    {8192, 1, 1, 1, 1, 1, 1, 12, 6},
};

TEST(SlabGeometryTest, MatchesSlubFormulas) {
  for (const GeometryCase& c : kGeometryCases) {
    const SlabGeometry g = CalculateSlabGeometry(c.size, c.cpus, c.max_order);
    SCOPED_TRACE(::testing::Message() << "size " << c.size << " cpus " << c.cpus
                                      << " max_order " << c.max_order);
    EXPECT_EQ(g.size, c.size);
    EXPECT_EQ(g.order, c.order);
    EXPECT_EQ(g.objects, c.objects);
    EXPECT_EQ(g.min_order, c.min_order);
    EXPECT_EQ(g.min_objects, c.min_objects);
    EXPECT_EQ(g.cpu_partial_slabs, c.cpu_partial_slabs);
    EXPECT_EQ(g.min_partial, c.min_partial);
  }
}

TEST(SlabGeometryTest, KmallocCachesUseIt) {
  for (uint16_t cpus : {1, 2, 4}) {
    Model model(SlabConfig(cpus));
    for (const GeometryCase& c : kGeometryCases) {
      if (c.cpus != cpus || c.max_order != 10) continue;
      const int index = KmallocIndex(c.size);
      if (index < 0 || KmallocClassSize(index) != c.size) continue;
      const KmemCache* cache = model.slab().KmallocCache(index);
      SCOPED_TRACE(cache->name);
      EXPECT_EQ(cache->size, c.size);
      EXPECT_EQ(cache->order, c.order);
      EXPECT_EQ(cache->objects, c.objects);
      EXPECT_EQ(cache->min_order, c.min_order);
      EXPECT_EQ(cache->min_objects, c.min_objects);
      EXPECT_EQ(cache->cpu_partial_slabs, c.cpu_partial_slabs);
      EXPECT_EQ(cache->min_partial, c.min_partial);
    }
  }
}

// ---------------------------------------------------------------------------
// kmalloc.

TEST(KmallocTest, ClassMapping) {
  struct Case {
    size_t size;
    uint32_t class_size;
  };
  const Case cases[] = {
      {1, 8},      {8, 8},      {9, 16},     {16, 16},    {17, 32},
      {32, 32},    {33, 64},    {64, 64},    {65, 96},    {96, 96},
      {97, 128},   {128, 128},  {129, 192},  {192, 192},  {193, 256},
      {256, 256},  {257, 512},  {512, 512},  {513, 1024}, {1024, 1024},
      {1025, 2048}, {4096, 4096}, {4097, 8192}, {8192, 8192},
  };
  for (const Case& c : cases) {
    const int index = KmallocIndex(c.size);
    ASSERT_GE(index, 0) << c.size;
    EXPECT_EQ(KmallocClassSize(index), c.class_size) << "size " << c.size;
  }
  EXPECT_EQ(KmallocIndex(0), -1);
  EXPECT_EQ(KmallocIndex(8193), -1);
  // The 13 classes in order.
  const uint32_t classes[kKmallocClasses] = {8, 16, 32, 64, 96, 128, 192,
                                             256, 512, 1024, 2048, 4096, 8192};
  for (int i = 0; i < kKmallocClasses; ++i) EXPECT_EQ(KmallocClassSize(i), classes[i]);
}

TEST(KmallocTest, KsizeIsTheClassSize) {
  Model model(SlabConfig(2));
  struct Case {
    size_t size;
    size_t ksize;
  };
  const Case cases[] = {{1, 8},     {13, 16},    {65, 96},    {96, 96},
                        {97, 128},  {150, 192},  {193, 256},  {700, 1024},
                        {4000, 4096}, {8192, 8192}};
  std::vector<void*> objects;
  for (const Case& c : cases) {
    void* object = model.Kmalloc(c.size, KernelCtx());
    ASSERT_NE(object, nullptr);
    EXPECT_EQ(model.Ksize(object), c.ksize) << "kmalloc(" << c.size << ")";
    const Pfn head = SlabHeadOf(model, object);
    ASSERT_NE(head, kNoPfn);
    EXPECT_EQ(model.slab().KmallocCache(KmallocIndex(c.size))->id + 1u,
              model.pages().frame(head).owner);
    objects.push_back(object);
  }
  EXPECT_EQ(model.Kmalloc(0, KernelCtx()), nullptr);
  for (void* object : objects) model.Kfree(object);
  EXPECT_TRUE(model.IsPristine());
}

// Above 8192 bytes kmalloc goes to the page allocator: get_order(size).
TEST(KmallocTest, LargeKmallocUsesPages) {
  Model model(SlabConfig(2));
  struct Case {
    size_t size;
    int order;
  };
  const Case cases[] = {{8193, 2}, {12288, 2}, {16384, 2}, {16385, 3},
                        {100000, 5}, {4096u << 10, 10}};
  const uint64_t free_before = model.pages().free_pages();
  uint64_t pages = 0;
  std::vector<void*> objects;
  for (const Case& c : cases) {
    void* object = model.Kmalloc(c.size, KernelCtx());
    ASSERT_NE(object, nullptr) << c.size;
    const Pfn pfn = model.pages().AddressToPfn(object);
    EXPECT_EQ(object, model.pages().PageAddress(pfn));
    EXPECT_EQ(model.pages().frame(pfn).order, c.order) << c.size;
    EXPECT_EQ(model.pages().frame(pfn).owner, kLargeKmallocOwner);
    EXPECT_FALSE(model.pages().frame(pfn).flags & kPageSlab);
    EXPECT_EQ(model.Ksize(object), kPageSize << c.order) << c.size;
    pages += uint64_t{1} << c.order;
    objects.push_back(object);
  }
  EXPECT_EQ(model.pages().free_pages(), free_before - pages);
  EXPECT_EQ(model.slab().nr_slabs(), 0u);
  // Larger than the largest buddy block: refused, not reported.
  EXPECT_EQ(model.Kmalloc((4096u << 10) + 1, KernelCtx()), nullptr);
  for (void* object : objects) model.Kfree(object);
  EXPECT_EQ(model.pages().free_pages(), free_before);
  EXPECT_TRUE(model.IsPristine());
}

TEST(KmallocTest, ZeroFlag) {
  Model model(SlabConfig(1));
  void* object = model.Kmalloc(100, KernelCtx());
  ASSERT_NE(object, nullptr);
  std::memset(object, 0xCD, 100);
  model.Kfree(object);
  // Freed on the CPU whose active slab holds it: it is the next object.
  void* again = model.Kmalloc(100, test::GfpCtx(kGfpKernel | kGfpZero));
  ASSERT_EQ(again, object);
  const uint8_t* bytes = static_cast<const uint8_t*>(again);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(bytes[i], 0) << "byte " << i;
  model.Kfree(again);
  // Large kmalloc: the whole block.
  void* large = model.Kmalloc(20000, KernelCtx());
  std::memset(large, 0xCD, 20000);
  model.Kfree(large);
  void* large_again = model.Kmalloc(20000, test::GfpCtx(kGfpKernel | kGfpZero));
  ASSERT_EQ(large_again, large);
  bytes = static_cast<const uint8_t*>(large_again);
  for (int i = 0; i < 20000; ++i) ASSERT_EQ(bytes[i], 0) << "byte " << i;
  model.Kfree(large_again);
}

// ---------------------------------------------------------------------------
// The allocation and free paths.

// A 512-byte cache on 2 CPUs: order-1 slabs of 16 objects (see above),
// cpu_partial_slabs 7, min_partial 5.
TEST(SlabPathTest, FastSlowRemotePartialNodeAndNewSlab) {
  Model model(SlabConfig(2));
  KmemCache* cache = model.KmemCacheCreate("t512", 512, 8);
  ASSERT_NE(cache, nullptr);
  ASSERT_EQ(cache->objects, 16);
  ASSERT_EQ(cache->order, 1);
  const KmemCacheStats& stats = cache->stats;
  auto alloc = [&](uint16_t cpu) { return model.KmemCacheAlloc(cache, KernelCtx(cpu)); };

  // A new slab: slow path; its objects come out in address order.
  std::vector<void*> a;
  a.push_back(alloc(0));
  const Pfn slab_a = SlabHeadOf(model, a[0]);
  ASSERT_NE(slab_a, kNoPfn);
  EXPECT_EQ(a[0], model.pages().PageAddress(slab_a));
  EXPECT_EQ(stats.alloc_slowpath, 1u);
  EXPECT_EQ(stats.new_slabs, 1u);
  EXPECT_EQ(model.slab().slab(slab_a).place, SlabPlace::kCpuActive);
  EXPECT_EQ(model.slab().slab(slab_a).order, 1);
  EXPECT_EQ(cache->cpu[0].slab, slab_a);
  // The rest of the slab: fast path.
  for (int i = 1; i < 16; ++i) {
    a.push_back(alloc(0));
    EXPECT_EQ(a[i], static_cast<uint8_t*>(a[0]) + 512 * i);
  }
  EXPECT_EQ(stats.alloc_fastpath, 15u);
  EXPECT_EQ(model.slab().slab(slab_a).inuse, 16);

  // The active slab is full: deactivated to the full list, a new slab.
  std::vector<void*> b;
  for (int i = 0; i < 16; ++i) b.push_back(alloc(0));
  const Pfn slab_b = SlabHeadOf(model, b[0]);
  EXPECT_NE(slab_b, slab_a);
  EXPECT_EQ(model.slab().slab(slab_a).place, SlabPlace::kFull);
  EXPECT_EQ(cache->nr_full, 1u);
  EXPECT_EQ(stats.new_slabs, 2u);
  EXPECT_EQ(stats.alloc_slowpath, 2u);
  EXPECT_EQ(stats.alloc_fastpath, 30u);

  // A remote free into CPU 0's active slab goes to the slab's own freelist;
  // CPU 0 picks it up (get_freelist) once its lockless list is empty.
  model.KmemCacheFree(cache, b[3], 1);
  EXPECT_EQ(stats.free_slowpath, 1u);
  EXPECT_EQ(model.slab().slab(slab_b).place, SlabPlace::kCpuActive);
  EXPECT_EQ(alloc(0), b[3]);
  EXPECT_EQ(stats.alloc_slowpath, 3u);
  EXPECT_EQ(stats.new_slabs, 2u);

  // The first free into a full slab puts it on the freeing CPU's partials;
  // that CPU allocates from it next.
  model.KmemCacheFree(cache, a[5], 1);
  EXPECT_EQ(model.slab().slab(slab_a).place, SlabPlace::kCpuPartial);
  EXPECT_EQ(model.slab().slab(slab_a).cpu, 1);
  EXPECT_EQ(cache->cpu[1].nr_partial, 1);
  EXPECT_EQ(cache->nr_full, 0u);
  EXPECT_EQ(alloc(1), a[5]);
  EXPECT_EQ(stats.alloc_slowpath, 4u);
  EXPECT_EQ(model.slab().slab(slab_a).place, SlabPlace::kCpuActive);
  EXPECT_EQ(cache->cpu[1].slab, slab_a);
  EXPECT_EQ(cache->cpu[1].nr_partial, 0);

  // Node partial: a remote free into CPU 1's slab, then a shrink
  // deactivates both CPUs: B (full) to the full list, A (15 of 16) to the
  // node partial list, where CPU 0 finds it.
  model.KmemCacheFree(cache, a[0], 0);
  model.slab().CacheShrink(cache);
  EXPECT_EQ(model.slab().slab(slab_a).place, SlabPlace::kNodePartial);
  EXPECT_EQ(model.slab().slab(slab_b).place, SlabPlace::kFull);
  EXPECT_EQ(cache->nr_node_partial, 1u);
  EXPECT_EQ(cache->cpu[0].slab, kNoPfn);
  EXPECT_EQ(alloc(0), a[0]);
  EXPECT_EQ(stats.alloc_slowpath, 5u);
  EXPECT_EQ(cache->nr_node_partial, 0u);
  EXPECT_EQ(stats.new_slabs, 2u);

  // Nothing free anywhere: a third slab.
  void* c0 = alloc(0);
  const Pfn slab_c = SlabHeadOf(model, c0);
  EXPECT_NE(slab_c, slab_a);
  EXPECT_NE(slab_c, slab_b);
  EXPECT_EQ(stats.new_slabs, 3u);
  EXPECT_EQ(stats.alloc_slowpath, 6u);
  EXPECT_EQ(cache->nr_full, 2u);
  EXPECT_EQ(stats.free_slowpath, 3u);

  // A free on the CPU whose active slab holds the object: fast path, LIFO.
  model.KmemCacheFree(cache, c0, 0);
  EXPECT_EQ(stats.free_fastpath, 1u);
  EXPECT_EQ(alloc(0), c0);
  EXPECT_EQ(stats.alloc_fastpath, 31u);

  EXPECT_EQ(cache->live_objects, 33u);
  for (void* p : a) model.KmemCacheFree(cache, p, 0);
  for (void* p : b) model.KmemCacheFree(cache, p, 1);
  model.KmemCacheFree(cache, c0, 0);
  EXPECT_EQ(cache->live_objects, 0u);
  EXPECT_TRUE(model.KmemCacheDestroy(cache));
  EXPECT_TRUE(model.IsPristine());
}

// A 2048-byte cache on 1 CPU: order-2 slabs of 8 objects,
// cpu_partial_slabs 6, min_partial 5.
TEST(SlabPathTest, CpuPartialOverflowAndMinPartial) {
  Model model(SlabConfig(1));
  KmemCache* cache = model.KmemCacheCreate("t2048", 2048, 8);
  ASSERT_EQ(cache->objects, 8);
  ASSERT_EQ(cache->order, 2);
  ASSERT_EQ(cache->cpu_partial_slabs, 6);
  ASSERT_EQ(cache->min_partial, 5);
  std::vector<void*> objects;
  for (int i = 0; i < 64; ++i) objects.push_back(model.KmemCacheAlloc(cache, KernelCtx()));
  std::vector<Pfn> slabs;  // S1..S8 in creation order
  for (int s = 0; s < 8; ++s) {
    slabs.push_back(SlabHeadOf(model, objects[s * 8]));
    for (int i = 1; i < 8; ++i) ASSERT_EQ(SlabHeadOf(model, objects[s * 8 + i]), slabs[s]);
  }
  EXPECT_EQ(cache->nr_slabs, 8u);
  EXPECT_EQ(cache->nr_full, 7u);
  EXPECT_EQ(cache->cpu[0].slab, slabs[7]);
  const uint64_t free_after_fill = model.pages().free_pages();
  EXPECT_EQ(free_after_fill, 4096u - 8 * 4);

  // One free into each of S1..S6: each goes to the CPU partial list, which
  // reaches its bound of 6 without overflowing.
  for (int s = 0; s < 6; ++s) model.KmemCacheFree(cache, objects[s * 8], 0);
  EXPECT_EQ(cache->cpu[0].nr_partial, 6);
  EXPECT_EQ(cache->nr_node_partial, 0u);
  EXPECT_EQ(cache->nr_full, 1u);
  // The seventh overflows: the six are unfrozen to the node list first.
  model.KmemCacheFree(cache, objects[6 * 8], 0);
  EXPECT_EQ(cache->cpu[0].nr_partial, 1);
  EXPECT_EQ(cache->nr_node_partial, 6u);
  EXPECT_EQ(model.slab().slab(slabs[6]).place, SlabPlace::kCpuPartial);
  for (int s = 0; s < 6; ++s) {
    EXPECT_EQ(model.slab().slab(slabs[s]).place, SlabPlace::kNodePartial);
    EXPECT_EQ(model.slab().slab(slabs[s]).inuse, 7);
  }

  // Emptying node partial slabs: discarded while the list holds at least
  // min_partial (6 >= 5, then 5 >= 5), kept afterwards (4 < 5).
  for (int s = 0; s < 6; ++s) {
    for (int i = 1; i < 8; ++i) model.KmemCacheFree(cache, objects[s * 8 + i], 0);
  }
  EXPECT_EQ(cache->stats.discarded_slabs, 2u);
  EXPECT_EQ(cache->nr_node_partial, 4u);
  EXPECT_EQ(cache->nr_slabs, 6u);
  EXPECT_EQ(model.pages().free_pages(), free_after_fill + 2 * 4);
  EXPECT_FALSE(model.pages().frame(slabs[0]).flags & kPageSlab);
  EXPECT_FALSE(model.pages().frame(slabs[1]).flags & kPageSlab);
  for (int s = 2; s < 6; ++s) {
    EXPECT_EQ(model.slab().slab(slabs[s]).place, SlabPlace::kNodePartial);
    EXPECT_EQ(model.slab().slab(slabs[s]).inuse, 0);
  }

  // The active slab S8 is full: the CPU partial S7 serves next.
  void* next = model.KmemCacheAlloc(cache, KernelCtx());
  EXPECT_EQ(next, objects[6 * 8]);
  EXPECT_EQ(model.slab().slab(slabs[7]).place, SlabPlace::kFull);
  EXPECT_EQ(cache->cpu[0].slab, slabs[6]);

  // Shrinking discards every empty slab, whatever min_partial says.
  model.slab().CacheShrink(cache);
  EXPECT_EQ(cache->stats.discarded_slabs, 6u);
  EXPECT_EQ(cache->nr_slabs, 2u);
  EXPECT_EQ(cache->nr_node_partial, 0u);
  EXPECT_EQ(cache->nr_full, 2u);
  EXPECT_EQ(model.pages().free_pages(), 4096u - 2 * 4);
  for (int s = 6; s < 8; ++s) {
    for (int i = 0; i < 8; ++i) model.KmemCacheFree(cache, objects[s * 8 + i], 0);
  }
  EXPECT_TRUE(model.KmemCacheDestroy(cache));
  EXPECT_TRUE(model.IsPristine());
}

// ---------------------------------------------------------------------------
// Reserve slabs, under both policies.
//
// 512 pages, min_free_kbytes 400: min 100, low 125. Unentitled pressure
// leaves 100 pages, which only NO_WATERMARKS reaches. kmalloc-32 on 2 CPUs:
// order-0 slabs of 128 objects, min_partial 5.

class ReserveSlabTest : public ::testing::TestWithParam<SlabPolicy> {
 protected:
  ReserveSlabTest() : model_(Config()) {}
  static ModelConfig Config() {
    ModelConfig config;
    config.normal_pages = 512;
    config.max_order = 7;
    config.min_free_kbytes = 400;
    config.nr_cpus = 2;
    config.slab_policy = GetParam();
    config.audit = AuditLevel::kFull;
    return config;
  }
  KmemCache* Cache32() { return model_.slab().KmallocCache(KmallocIndex(32)); }
  void Pressure() {
    pressure_ = Exhaust(model_, KernelCtx());
    ASSERT_EQ(model_.pages().free_pages(), 100u);
  }
  // Gives back pressure pages until `pages` are free.
  void EasePressure(uint64_t pages) {
    while (model_.pages().free_pages() < pages) {
      ASSERT_FALSE(pressure_.empty());
      model_.FreePages(pressure_.back().pfn, pressure_.back().order);
      pressure_.pop_back();
    }
  }
  bool Tagged(const void* object) {
    const Pfn head = SlabHeadOf(model_, object);
    return model_.slab().slab(head).pfmemalloc;
  }
  void Finish(const std::vector<void*>& objects) {
    for (void* object : objects) model_.Kfree(object, 0);
    test::FreeBlocks(model_, pressure_);
    pressure_.clear();
    EXPECT_TRUE(model_.IsPristine());
    model_.CheckPristine();
  }

  Model model_;
  std::vector<test::PageBlock> pressure_;
};

TEST_P(ReserveSlabTest, UnentitledCallersNeverGetReserveObjects) {
  KmemCache* cache = Cache32();
  ASSERT_EQ(cache->objects, 128);
  Pressure();

  // An entitled caller under exhaustion gets a reserve slab.
  void* e1 = model_.Kmalloc(32, MemallocCtx(0));
  ASSERT_NE(e1, nullptr);
  const Pfn reserve = SlabHeadOf(model_, e1);
  EXPECT_TRUE(model_.slab().slab(reserve).pfmemalloc);
  EXPECT_TRUE(model_.pages().frame(reserve).flags & kPagePfmemalloc);
  EXPECT_EQ(model_.pages().pfmemalloc_pages(), 1u);
  EXPECT_EQ(cache->stats.reserve_slabs, 1u);
  EXPECT_EQ(cache->stats.deactivate_mismatch, 0u);

  // An unentitled caller meets it as CPU 0's active slab: deactivates it
  // and, with no memory, fails.
  EXPECT_EQ(model_.Kmalloc(32, KernelCtx(0)), nullptr);
  EXPECT_EQ(cache->stats.deactivate_mismatch, 1u);
  EXPECT_EQ(cache->cpu[0].slab, kNoPfn);
  EXPECT_EQ(model_.slab().slab(reserve).place, SlabPlace::kNodePartial);
  EXPECT_EQ(model_.slab().slab(reserve).inuse, 1);

  // Once memory is available it gets a fresh slab; the node partial list
  // does not hand it the reserve slab, on either CPU.
  EasePressure(130);
  void* u0 = model_.Kmalloc(32, KernelCtx(0));
  void* u1 = model_.Kmalloc(32, KernelCtx(1));
  ASSERT_NE(u0, nullptr);
  ASSERT_NE(u1, nullptr);
  EXPECT_NE(SlabHeadOf(model_, u0), reserve);
  EXPECT_NE(SlabHeadOf(model_, u1), reserve);
  EXPECT_FALSE(Tagged(u0));
  EXPECT_FALSE(Tagged(u1));
  EXPECT_EQ(model_.slab().slab(reserve).place, SlabPlace::kNodePartial);
  EXPECT_EQ(model_.slab().slab(reserve).inuse, 1);

  // An entitled caller with a normal active slab uses it (both policies).
  void* e2 = model_.Kmalloc(32, MemallocCtx(0));
  EXPECT_EQ(SlabHeadOf(model_, e2), SlabHeadOf(model_, u0));

  // Empty, the reserve slab stays on the node list (1 < min_partial) and
  // keeps its tag; going back to the page allocator clears it.
  model_.Kfree(e1, 0);
  EXPECT_EQ(model_.slab().slab(reserve).inuse, 0);
  EXPECT_TRUE(model_.slab().slab(reserve).pfmemalloc);
  EXPECT_EQ(model_.pages().pfmemalloc_pages(), 1u);
  model_.slab().CacheShrink(cache);
  EXPECT_FALSE(model_.slab().slab(reserve).pfmemalloc);
  EXPECT_FALSE(model_.pages().frame(reserve).flags & kPagePfmemalloc);
  EXPECT_FALSE(model_.pages().frame(reserve).flags & kPageSlab);
  EXPECT_EQ(model_.pages().pfmemalloc_pages(), 0u);
  EXPECT_EQ(cache->stats.discarded_slabs, 1u);
  Finish({u0, u1, e2});
}

TEST_P(ReserveSlabTest, ReserveSlabOnACpuPartialListIsSkipped) {
  Pressure();
  // Fill one reserve slab (128 objects) and start a second.
  std::vector<void*> reserve_objects;
  for (int i = 0; i < 129; ++i) {
    void* object = model_.Kmalloc(32, MemallocCtx(0));
    ASSERT_NE(object, nullptr) << i;
    reserve_objects.push_back(object);
  }
  const Pfn first = SlabHeadOf(model_, reserve_objects[0]);
  const Pfn second = SlabHeadOf(model_, reserve_objects[128]);
  EXPECT_EQ(SlabHeadOf(model_, reserve_objects[127]), first);
  EXPECT_NE(second, first);
  EXPECT_EQ(model_.pages().pfmemalloc_pages(), 2u);
  EXPECT_EQ(model_.slab().slab(first).place, SlabPlace::kFull);

  // A free on CPU 1 moves the full reserve slab to CPU 1's partial list.
  model_.Kfree(reserve_objects[0], 1);
  reserve_objects.erase(reserve_objects.begin());
  EXPECT_EQ(model_.slab().slab(first).place, SlabPlace::kCpuPartial);
  EXPECT_EQ(model_.slab().slab(first).cpu, 1);

  // An unentitled caller on CPU 1 passes it over (to the node list) and
  // gets a fresh slab.
  EasePressure(130);
  void* u = model_.Kmalloc(32, KernelCtx(1));
  ASSERT_NE(u, nullptr);
  EXPECT_FALSE(Tagged(u));
  EXPECT_NE(SlabHeadOf(model_, u), first);
  EXPECT_NE(SlabHeadOf(model_, u), second);
  EXPECT_EQ(model_.slab().slab(first).place, SlabPlace::kNodePartial);
  EXPECT_EQ(Cache32()->cpu[1].nr_partial, 0);
  reserve_objects.push_back(u);
  Finish(reserve_objects);
}

// Under no-mixing an entitled caller takes what an unentitled caller could
// (a normal slab) and the reserve slab only when nothing else serves; under
// the page tag it takes whatever its CPU has at hand.
TEST_P(ReserveSlabTest, EntitledCallerAndNormalSlabs) {
  const bool no_mixing = GetParam() == SlabPolicy::kNoMixing;
  KmemCache* cache = Cache32();
  // A full normal slab N, made before the pressure.
  std::vector<void*> normal;
  for (int i = 0; i < 128; ++i) normal.push_back(model_.Kmalloc(32, KernelCtx(0)));
  const Pfn normal_slab = SlabHeadOf(model_, normal[0]);
  EXPECT_EQ(SlabHeadOf(model_, normal[127]), normal_slab);
  Pressure();

  // N is full: the entitled caller gets a new slab, from the reserve.
  void* e1 = model_.Kmalloc(32, MemallocCtx(0));
  const Pfn reserve = SlabHeadOf(model_, e1);
  ASSERT_TRUE(model_.slab().slab(reserve).pfmemalloc);
  EXPECT_EQ(model_.slab().slab(normal_slab).place, SlabPlace::kFull);

  // One object of N freed on CPU 0: N goes to CPU 0's partial list.
  model_.Kfree(normal[0], 0);
  EXPECT_EQ(model_.slab().slab(normal_slab).place, SlabPlace::kCpuPartial);

  void* e2 = model_.Kmalloc(32, MemallocCtx(0));
  void* e3 = model_.Kmalloc(32, MemallocCtx(0));
  if (no_mixing) {
    // e2: the unentitled attempt lets the reserve slab go (to the node
    // list) and takes N's free object. e3: N is full again, nothing normal
    // is left and no page can be had: the reserve slab serves.
    EXPECT_EQ(e2, normal[0]);
    EXPECT_EQ(SlabHeadOf(model_, e3), reserve);
    EXPECT_EQ(model_.slab().slab(reserve).inuse, 2);
    EXPECT_EQ(model_.slab().slab(normal_slab).inuse, 128);
  } else {
    // The reserve slab is CPU 0's active slab: the fast path serves.
    EXPECT_EQ(SlabHeadOf(model_, e2), reserve);
    EXPECT_EQ(SlabHeadOf(model_, e3), reserve);
    EXPECT_EQ(model_.slab().slab(reserve).inuse, 3);
    EXPECT_EQ(model_.slab().slab(normal_slab).inuse, 127);
    EXPECT_EQ(cache->stats.deactivate_mismatch, 0u);
  }
  EXPECT_EQ(model_.pages().pfmemalloc_pages(), 1u);
  EXPECT_EQ(cache->stats.reserve_slabs, 1u);
  normal.erase(normal.begin());
  normal.push_back(e1);
  normal.push_back(e2);
  normal.push_back(e3);
  Finish(normal);
}

INSTANTIATE_TEST_SUITE_P(BothPolicies, ReserveSlabTest,
                         ::testing::Values(SlabPolicy::kPageTag, SlabPolicy::kNoMixing),
                         [](const ::testing::TestParamInfo<SlabPolicy>& info) {
                           return info.param == SlabPolicy::kPageTag ? std::string("PageTag")
                                                                     : std::string("NoMixing");
                         });

// ---------------------------------------------------------------------------
// Caches.

TEST(KmemCacheTest, CreateAllocDestroy) {
  Model model(SlabConfig(2));
  KmemCache* cache = model.KmemCacheCreate("c100", 100, 0);
  ASSERT_NE(cache, nullptr);
  EXPECT_STREQ(cache->name, "c100");
  EXPECT_FALSE(cache->is_kmalloc);
  EXPECT_EQ(cache->object_size, 100u);
  EXPECT_EQ(cache->size, 104u);  // aligned to 8, the free pointer's size
  // 2 CPUs: 12 * 104 -> order 0, 4096 % 104 = 40: 39 objects.
  EXPECT_EQ(cache->order, 0);
  EXPECT_EQ(cache->objects, 39);
  EXPECT_EQ(model.slab().CacheById(cache->id), cache);

  void* object = model.KmemCacheAlloc(cache, KernelCtx());
  ASSERT_NE(object, nullptr);
  EXPECT_EQ(model.Ksize(object), 100u);
  // Destroy refuses while an object lives, and changes nothing.
  EXPECT_FALSE(model.KmemCacheDestroy(cache));
  EXPECT_TRUE(cache->live);
  EXPECT_EQ(model.slab().CacheById(cache->id), cache);
  EXPECT_EQ(cache->live_objects, 1u);
  model.KmemCacheFree(cache, object);
  const uint16_t id = cache->id;
  EXPECT_TRUE(model.KmemCacheDestroy(cache));
  EXPECT_EQ(model.slab().CacheById(id), nullptr);
  EXPECT_EQ(model.KmemCacheAlloc(cache, KernelCtx()), nullptr);  // dead cache
  EXPECT_FALSE(model.KmemCacheDestroy(cache));                   // twice
  EXPECT_TRUE(model.IsPristine());
}

TEST(KmemCacheTest, AlignmentAndInvalidShapes) {
  Model model(SlabConfig(2));
  KmemCache* aligned = model.KmemCacheCreate("a64", 100, 64);
  ASSERT_NE(aligned, nullptr);
  EXPECT_EQ(aligned->size, 128u);
  std::vector<void*> objects;
  for (int i = 0; i < 40; ++i) {
    void* object = model.KmemCacheAlloc(aligned, KernelCtx());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(object) % 64, 0u);
    objects.push_back(object);
  }
  for (void* object : objects) model.KmemCacheFree(aligned, object);
  EXPECT_TRUE(model.KmemCacheDestroy(aligned));

  EXPECT_EQ(model.KmemCacheCreate("zero", 0, 8), nullptr);
  EXPECT_EQ(model.KmemCacheCreate("big", 8193, 8), nullptr);
  EXPECT_EQ(model.KmemCacheCreate("align3", 64, 3), nullptr);
  EXPECT_EQ(model.KmemCacheCreate("align8k", 64, 8192), nullptr);
  EXPECT_NE(model.KmemCacheCreate("max", 8192, 4096), nullptr);
  // kmalloc caches cannot be destroyed.
  EXPECT_FALSE(model.KmemCacheDestroy(model.slab().KmallocCache(0)));
  EXPECT_TRUE(model.slab().KmallocCache(0)->live);
}

TEST(KmemCacheTest, SlotsRunOutAndAreReused) {
  Model model(SlabConfig(1));
  std::vector<KmemCache*> caches;
  for (int i = kKmallocClasses; i < kMaxCaches; ++i) {
    KmemCache* cache = model.KmemCacheCreate("slot", 64, 8);
    ASSERT_NE(cache, nullptr) << i;
    EXPECT_EQ(cache->id, i);
    caches.push_back(cache);
  }
  EXPECT_EQ(model.KmemCacheCreate("one too many", 64, 8), nullptr);
  ASSERT_TRUE(model.KmemCacheDestroy(caches[7]));
  KmemCache* again = model.KmemCacheCreate("again", 32, 8);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->id, kKmallocClasses + 7);
  EXPECT_EQ(again->size, 32u);
}

}  // namespace
}  // namespace reservoir
