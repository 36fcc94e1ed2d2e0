// Estimators: demand -> strict reserve pages. The worst-case bound is
// derived in docs/MODEL.md ("The estimator"); in short, for each slab
// class the reserve must hold
//   * the full slabs the live objects can fill: objects * r pages, where r
//     is the larger pages-per-object ratio of the preferred and the
//     fallback slab order, and
//   * the slabs that can sit half-empty out of the allocating CPU's sight
//     when it has to make a new one: the other CPUs' active slab and
//     per-CPU partial slabs, plus the new slab itself:
//     ((nr_cpus - 1) * (1 + cpu_partial_slabs) + 1) slabs of 2^order pages.
// A class's reserve pages only grow when it makes a new slab, and then
// every slab it can see is full, so its pages never exceed the bound taken
// with the live objects of that moment. For kmalloc those moments differ
// per class: a class can be filled with the whole demand, then freed down
// to one object per slab (its slabs stay), and the released charge fills
// the next class. So each reachable class must be budgeted for the whole
// demand, floor(N / class size) objects, not a share of it; large kmalloc
// blocks (no slabs, nothing kept) add N / 4096 pages.
#include "reservoir/estimator.h"

#include <algorithm>

#include "reservoir/plant.h"
#include "reservoir/slab_allocator.h"

namespace reservoir {
namespace {

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

int GetOrder(uint64_t bytes) {
  int order = 0;
  while ((kPageSize << order) < bytes) ++order;
  return order;
}

uint64_t RoundUpPowerOfTwo(uint64_t x) {
  uint64_t result = 1;
  while (result < x) result <<= 1;
  return result;
}

uint64_t HistoricalPages(EstimatorKind kind, uint64_t bytes) {
  if (bytes == 0) return 0;
  if (kind == EstimatorKind::kTwiceNPlusM) {
    return CeilDiv(2 * bytes + kEstimatorSlackBytes, kPageSize);
  }
  return CeilDiv(RoundUpPowerOfTwo(bytes + kEstimatorSlackBytes), kPageSize);
}

// Slabs a class can have that hold no full share of live objects.
uint64_t InvisibleSlabs(const SlabGeometry& g, int nr_cpus) {
  return uint64_t(nr_cpus - 1) * (1 + g.cpu_partial_slabs) + 1;
}

// Pages per object of a full slab, as the fraction num/den, taking the worse
// of the preferred and the fallback order.
void PagesPerObject(const SlabGeometry& g, uint64_t* num, uint64_t* den) {
  const uint64_t a_num = uint64_t{1} << g.order, a_den = g.objects;
  const uint64_t b_num = uint64_t{1} << g.min_order, b_den = g.min_objects;
  if (a_num * b_den >= b_num * a_den) {
    *num = a_num;
    *den = a_den;
  } else {
    *num = b_num;
    *den = b_den;
  }
}

}  // namespace

uint64_t KmallocChargeBytes(uint64_t size) {
  const int index = KmallocIndex(size);
  if (index >= 0) return KmallocClassSize(index);
  return kPageSize << GetOrder(size);
}

uint64_t EstimateCachePages(EstimatorKind kind, const SlabGeometry& geometry,
                            uint64_t objects, int nr_cpus) {
  if (objects == 0) return 0;
  if (kind != EstimatorKind::kExact) {
    return HistoricalPages(kind, objects * geometry.size);
  }
  uint64_t num = 0, den = 1;
  PagesPerObject(geometry, &num, &den);
  uint64_t out_of_sight =
      InvisibleSlabs(geometry, nr_cpus) * (uint64_t{1} << geometry.order);
  // PLANT(estimator_drops_partial): the exact bound forgets the slabs out
  // of the allocating CPU's sight (other CPUs' active and partial slabs,
  // and the new slab itself), as 2N + m does: it counts only the full
  // slabs the objects fill, so a demand smaller than a slab gets no page.
  if (RESERVOIR_PLANTED(estimator_drops_partial)) out_of_sight = 0;
  return objects * num / den + out_of_sight;
}

uint64_t EstimateKmallocPages(EstimatorKind kind, uint64_t bytes, int nr_cpus,
                              int max_order) {
  if (bytes == 0) return 0;
  if (kind != EstimatorKind::kExact) return HistoricalPages(kind, bytes);
  uint64_t pages = 0;
  for (int i = 0; i < kKmallocClasses; ++i) {
    const uint32_t size = KmallocClassSize(i);
    if (size > bytes) break;
    // Every reachable class as if it alone held the whole demand (charge
    // freed elsewhere can move here, see the top of this file): what a
    // cache reserve of floor(bytes / size) objects of the class needs,
    // its full slabs plus its out-of-sight slabs.
    const SlabGeometry g = CalculateSlabGeometry(size, nr_cpus, max_order);
    pages += EstimateCachePages(kind, g, bytes / size, nr_cpus);
  }
  // Large kmalloc blocks cost exactly one page per 4096 charged bytes and
  // are never kept once freed.
  if (bytes >= KmallocChargeBytes(kKmallocMaxCacheSize + 1)) {
    pages += bytes / kPageSize;
  }
  return pages;
}

}  // namespace reservoir
