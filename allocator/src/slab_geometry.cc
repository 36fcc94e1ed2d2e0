// SLUB's choice of slab shape: calculate_order(), set_cpu_partial() and
// set_min_partial() in mm/slub.c.
#include <algorithm>

#include "reservoir/kmem_cache.h"

namespace reservoir {
namespace {

int Fls(unsigned int x) { return x == 0 ? 0 : 32 - __builtin_clz(x); }

// get_order(): the smallest order whose block holds `bytes`.
int GetOrder(uint64_t bytes) {
  int order = 0;
  while ((kPageSize << order) < bytes) ++order;
  return order;
}

uint32_t OrderObjects(int order, uint32_t size) {
  return static_cast<uint32_t>((kPageSize << order) / size);
}

// calc_slab_order(): the first order from the one that holds
// `min_objects` whose leftover is at most 1/fract_leftover of the slab.
int CalcSlabOrder(uint32_t size, uint32_t min_objects, int max_order,
                  uint32_t fract_leftover) {
  int order = GetOrder(uint64_t{min_objects} * size);
  for (; order <= max_order; ++order) {
    const uint64_t slab_size = kPageSize << order;
    if (slab_size % size <= slab_size / fract_leftover) break;
  }
  return order;
}

int CalculateOrder(uint32_t size, int nr_cpus, int max_order) {
  uint32_t min_objects = 4 * (Fls(static_cast<unsigned>(nr_cpus)) + 1);
  const uint32_t max_objects = OrderObjects(max_order, size);
  min_objects = std::min(min_objects, max_objects);
  while (min_objects > 1) {
    for (uint32_t fraction = 16; fraction >= 4; fraction /= 2) {
      const int order = CalcSlabOrder(size, min_objects, max_order, fraction);
      if (order <= max_order) return order;
    }
    --min_objects;
  }
  const int order = CalcSlabOrder(size, 1, max_order, 1);
  return std::min(order, max_order);
}

SlabGeometry ComputeSlabGeometry(uint32_t size, int nr_cpus, int max_order);

}  // namespace

// A pure function of its arguments, asked again for every cache created and
// every reserve estimate: the last answers are remembered (per thread) in a
// small direct-mapped table.
SlabGeometry CalculateSlabGeometry(uint32_t size, int nr_cpus, int max_order) {
  struct Entry {
    uint32_t size = 0;  // 0: empty (no cache has size 0)
    int16_t nr_cpus = 0;
    int16_t max_order = 0;
    SlabGeometry geometry;
  };
  thread_local Entry table[64];
  Entry& entry = table[(size / 8 + static_cast<uint32_t>(nr_cpus) * 7 +
                        static_cast<uint32_t>(max_order) * 13) % 64];
  if (entry.size != size || entry.nr_cpus != nr_cpus ||
      entry.max_order != max_order || size == 0) {
    entry.size = size;
    entry.nr_cpus = static_cast<int16_t>(nr_cpus);
    entry.max_order = static_cast<int16_t>(max_order);
    entry.geometry = ComputeSlabGeometry(size, nr_cpus, max_order);
  }
  return entry.geometry;
}

namespace {

SlabGeometry ComputeSlabGeometry(uint32_t size, int nr_cpus, int max_order) {
  SlabGeometry g;
  g.size = size;
  const int slub_max_order = std::min(kSlubMaxOrder, max_order);
  g.min_order = static_cast<uint8_t>(GetOrder(size));
  int order = std::max<int>(CalculateOrder(size, nr_cpus, slub_max_order),
                            g.min_order);
  // The in-use bitmap bounds a slab at kMaxObjectsPerSlab objects.
  while (order > g.min_order && OrderObjects(order, size) > kMaxObjectsPerSlab)
    --order;
  g.order = static_cast<uint8_t>(order);
  g.objects = static_cast<uint16_t>(
      std::min<uint32_t>(OrderObjects(order, size), kMaxObjectsPerSlab));
  g.min_objects = static_cast<uint16_t>(
      std::min<uint32_t>(OrderObjects(g.min_order, size), kMaxObjectsPerSlab));
  // set_cpu_partial(): a budget in objects, kept as slabs.
  uint32_t nr_objects;
  if (size >= kPageSize) nr_objects = 6;
  else if (size >= 1024) nr_objects = 24;
  else if (size >= 256) nr_objects = 52;
  else nr_objects = 120;
  g.cpu_partial_slabs =
      static_cast<uint16_t>((nr_objects * 2 + g.objects - 1) / g.objects);
  // set_min_partial(): ilog2(size) / 2, within [5, 10].
  const int ilog2 = Fls(size) - 1;
  g.min_partial = static_cast<uint16_t>(std::clamp(ilog2 / 2, 5, 10));
  return g;
}

}  // namespace

const char* SlabPlaceName(SlabPlace place) {
  switch (place) {
    case SlabPlace::kNone: return "none";
    case SlabPlace::kCpuActive: return "cpu-active";
    case SlabPlace::kCpuPartial: return "cpu-partial";
    case SlabPlace::kNodePartial: return "node-partial";
    case SlabPlace::kFull: return "full";
  }
  return "unknown";
}

}  // namespace reservoir
