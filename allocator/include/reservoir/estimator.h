// Estimators: how many pages must the strict reserve hold so that a user's
// demand can always be met? The derivation of the exact bound is in
// docs/MODEL.md ("The estimator"); the historical ones are kept so fuzzers
// can show where they fall short.
#pragma once

#include <cstdint>

#include "reservoir/config.h"
#include "reservoir/kmem_cache.h"

namespace reservoir {

// m in the historical formulas: one page of slack.
inline constexpr uint64_t kEstimatorSlackBytes = 4096;

// Pages to guarantee that live kmalloc charges of up to `bytes` (class
// sizes, or page-rounded sizes above 8192) always succeed.
uint64_t EstimateKmallocPages(EstimatorKind kind, uint64_t bytes, int nr_cpus,
                              int max_order);

// Pages to guarantee `objects` live objects of a cache shaped `geometry`.
uint64_t EstimateCachePages(EstimatorKind kind, const SlabGeometry& geometry,
                            uint64_t objects, int nr_cpus);

// The charge (bytes) of one kmalloc of `size`: its class size, or the
// page-rounded block above the largest class. This is also what ksize()
// reports, so charge and uncharge always agree.
uint64_t KmallocChargeBytes(uint64_t size);

}  // namespace reservoir
