// The timed loops both benchmark programs measure: one allocation and its
// free per iteration, after one untimed pair that builds the slab (or takes
// the first block out of the untouched range) and proves the request is
// served, so the loop cannot be timing a failed allocation.
#pragma once

#include <cstddef>

#include <benchmark/benchmark.h>

#include "reservoir/model.h"

namespace reservoir::bench {

inline void KmallocKfreePairs(benchmark::State& state, Model& model,
                              size_t size) {
  const AllocContext ctx;
  void* probe = model.Kmalloc(size, ctx);
  if (probe == nullptr) state.SkipWithError("kmalloc failed");
  model.Kfree(probe);
  for (auto _ : state) {
    void* object = model.Kmalloc(size, ctx);
    benchmark::DoNotOptimize(object);
    model.Kfree(object);
  }
}

inline void AllocFreePagePairs(benchmark::State& state, Model& model,
                               int order) {
  const AllocContext ctx;
  const Pfn probe = model.AllocPages(order, ctx);
  if (probe == kNoPfn) {
    state.SkipWithError("alloc_pages failed");
  } else {
    model.FreePages(probe, order);
  }
  for (auto _ : state) {
    const Pfn pfn = model.AllocPages(order, ctx);
    benchmark::DoNotOptimize(pfn);
    model.FreePages(pfn, order);
  }
}

// The same pair with the block's buddy held: two blocks of `order` are
// taken from an empty arena (the second is the first one's buddy), the
// first is freed and stays on its free list because its buddy is in use.
// Each pair then takes that block without a split and frees it without a
// merge: the fixed cost of the two calls, where AllocFreePagePairs on an
// empty arena pays for splitting a max-order block down and merging it back
// on every pair (its worst case).
inline void AllocFreePagePairsBuddyInUse(benchmark::State& state,
                                         Model& model, int order) {
  const AllocContext ctx;
  const Pfn first = model.AllocPages(order, ctx);
  const Pfn buddy = model.AllocPages(order, ctx);
  if (first == kNoPfn || buddy != (first ^ (Pfn{1} << order))) {
    state.SkipWithError("alloc_pages did not hand out two buddies");
    return;
  }
  model.FreePages(first, order);
  for (auto _ : state) {
    const Pfn pfn = model.AllocPages(order, ctx);
    benchmark::DoNotOptimize(pfn);
    model.FreePages(pfn, order);
  }
  model.FreePages(buddy, order);
}

}  // namespace reservoir::bench
