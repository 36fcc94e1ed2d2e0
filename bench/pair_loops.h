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

}  // namespace reservoir::bench
