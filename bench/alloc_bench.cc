// alloc_bench: the model's allocation paths side by side with glibc, in one
// run, and the ratios against the goals (bench/README.md):
//   kmalloc/kfree pairs     audit off and cheap vs glibc malloc/free
//   alloc_pages/free_pages  audit off and cheap vs glibc of the same bytes
//   reset                   Model::Reset() after a fixed small workload on a
//                           64 MiB vs a 1 GiB arena (must be flat)
// Each pair allocates and frees one block per iteration, so it measures the
// steady-state fast path: for kmalloc the CPU slab's freelist, for pages a
// split of one max-order block and its merge back.
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "pair_loops.h"
#include "ratio_reporter.h"
#include "reservoir/model.h"

namespace reservoir::bench {
namespace {

// kmalloc sizes: the smallest class, a power of two, one of the two odd
// classes, a mid size, the page-sized class, and a large kmalloc (> 8192
// goes straight to the page allocator as an order-2 block).
constexpr size_t kKmallocSizes[] = {8, 64, 96, 512, 4096, 16384};
constexpr int kPageOrders[] = {0, 1, 3, 5};

// Arenas for the reset benchmark (normal_pages of 4 KiB).
constexpr uint32_t kArena64MiB = 16384;
constexpr uint32_t kArena1GiB = 262144;

ModelConfig ConfigWithAudit(AuditLevel audit) {
  ModelConfig config;
  config.audit = audit;
  return config;
}

std::string AuditSuffix(AuditLevel audit) {
  return audit == AuditLevel::kOff ? "audit_off" : "audit_cheap";
}

std::string KmallocName(size_t size, AuditLevel audit) {
  return "kmalloc_kfree/" + std::to_string(size) + "/" + AuditSuffix(audit);
}

std::string PagesName(int order, AuditLevel audit) {
  return "alloc_free_pages/order:" + std::to_string(order) + "/" +
         AuditSuffix(audit);
}

std::string PagesBuddyInUseName(int order, AuditLevel audit) {
  return PagesName(order, audit) + "/buddy_in_use";
}

std::string GlibcName(size_t bytes) {
  return "glibc_malloc_free/" + std::to_string(bytes);
}

std::string ResetName(const char* what, uint32_t pages) {
  return std::string(what) + "/" +
         (pages == kArena64MiB ? "arena_64MiB" : "arena_1GiB");
}

void BM_KmallocKfree(benchmark::State& state, size_t size, AuditLevel audit) {
  Model model(ConfigWithAudit(audit));
  bench::KmallocKfreePairs(state, model, size);
}

void BM_AllocFreePages(benchmark::State& state, int order, AuditLevel audit) {
  Model model(ConfigWithAudit(audit));
  bench::AllocFreePagePairs(state, model, order);
}

void BM_AllocFreePagesBuddyInUse(benchmark::State& state, int order,
                                 AuditLevel audit) {
  Model model(ConfigWithAudit(audit));
  bench::AllocFreePagePairsBuddyInUse(state, model, order);
}

// The baseline. DoNotOptimize makes the pointer escape, so the compiler
// may not drop the malloc/free pair; ClobberMemory keeps iterations apart.
void BM_GlibcMallocFree(benchmark::State& state, size_t bytes) {
  for (auto _ : state) {
    void* block = std::malloc(bytes);
    benchmark::DoNotOptimize(block);
    std::free(block);
    benchmark::ClobberMemory();
  }
}

// The fixed workload before every reset: 32 kmallocs over the size classes
// and 4 page allocations (orders 0, 1, 3, 5), then everything freed. It
// touches the same few max-order blocks whatever the arena size.
void RunResetWorkload(Model& model) {
  constexpr size_t kSizes[] = {8, 32, 64, 96, 192, 512, 1024, 4096};
  const AllocContext ctx;
  void* objects[32];
  for (int i = 0; i < 32; ++i) objects[i] = model.Kmalloc(kSizes[i % 8], ctx);
  Pfn pages[4];
  for (int i = 0; i < 4; ++i) pages[i] = model.AllocPages(kPageOrders[i], ctx);
  for (int i = 0; i < 32; ++i) model.Kfree(objects[i]);
  for (int i = 0; i < 4; ++i) {
    if (pages[i] != kNoPfn) model.FreePages(pages[i], kPageOrders[i]);
  }
}

ModelConfig ResetConfig(uint32_t normal_pages) {
  ModelConfig config;
  config.normal_pages = normal_pages;
  config.audit = AuditLevel::kOff;  // the workload is not what is measured
  return config;
}

// Only Reset() is timed (manual time); the workload runs untimed.
void BM_ResetOnly(benchmark::State& state, uint32_t normal_pages) {
  Model model(ResetConfig(normal_pages));
  for (auto _ : state) {
    RunResetWorkload(model);
    const auto start = std::chrono::steady_clock::now();
    model.Reset();
    const auto stop = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
  }
}

// What a fuzzer pays per input: the workload and the reset.
void BM_WorkloadAndReset(benchmark::State& state, uint32_t normal_pages) {
  Model model(ResetConfig(normal_pages));
  for (auto _ : state) {
    RunResetWorkload(model);
    model.Reset();
  }
}

std::vector<RatioLine> RegisterAll() {
  std::vector<RatioLine> ratios;
  std::vector<size_t> glibc_sizes;
  auto glibc = [&](size_t bytes) {
    for (size_t s : glibc_sizes) {
      if (s == bytes) return GlibcName(bytes);
    }
    glibc_sizes.push_back(bytes);
    benchmark::RegisterBenchmark(GlibcName(bytes).c_str(), BM_GlibcMallocFree,
                                 bytes);
    return GlibcName(bytes);
  };

  for (size_t size : kKmallocSizes) {
    for (AuditLevel audit : {AuditLevel::kOff, AuditLevel::kCheap}) {
      benchmark::RegisterBenchmark(KmallocName(size, audit).c_str(),
                                   BM_KmallocKfree, size, audit);
    }
    const std::string base = glibc(size);
    ratios.push_back({"kmalloc/kfree " + std::to_string(size) +
                          " audit-off vs glibc",
                      KmallocName(size, AuditLevel::kOff), base, 2.0});
    ratios.push_back({"kmalloc/kfree " + std::to_string(size) +
                          " audit-cheap vs audit-off",
                      KmallocName(size, AuditLevel::kCheap),
                      KmallocName(size, AuditLevel::kOff), 2.0});
  }
  for (int order : kPageOrders) {
    for (AuditLevel audit : {AuditLevel::kOff, AuditLevel::kCheap}) {
      benchmark::RegisterBenchmark(PagesName(order, audit).c_str(),
                                   BM_AllocFreePages, order, audit);
      benchmark::RegisterBenchmark(PagesBuddyInUseName(order, audit).c_str(),
                                   BM_AllocFreePagesBuddyInUse, order, audit);
    }
    const std::string base = glibc(kPageSize << order);
    ratios.push_back({"alloc/free_pages order " + std::to_string(order) +
                          " audit-off vs glibc",
                      PagesName(order, AuditLevel::kOff), base, 2.0});
    ratios.push_back({"alloc/free_pages order " + std::to_string(order) +
                          " audit-cheap vs audit-off",
                      PagesName(order, AuditLevel::kCheap),
                      PagesName(order, AuditLevel::kOff), 2.0});
    ratios.push_back({"alloc/free_pages order " + std::to_string(order) +
                          " buddy in use, audit-off vs glibc",
                      PagesBuddyInUseName(order, AuditLevel::kOff), base,
                      2.0});
  }
  for (uint32_t pages : {kArena64MiB, kArena1GiB}) {
    benchmark::RegisterBenchmark(ResetName("reset_only", pages).c_str(),
                                 BM_ResetOnly, pages)
        ->UseManualTime();
    benchmark::RegisterBenchmark(ResetName("workload_and_reset", pages).c_str(),
                                 BM_WorkloadAndReset, pages);
  }
  // "Flat" is read as within 25% (noise on a shared VM), a choice of ours.
  ratios.push_back({"reset only 1GiB vs 64MiB (flat)",
                    ResetName("reset_only", kArena1GiB),
                    ResetName("reset_only", kArena64MiB), 1.25});
  ratios.push_back({"workload+reset 1GiB vs 64MiB (flat)",
                    ResetName("workload_and_reset", kArena1GiB),
                    ResetName("workload_and_reset", kArena64MiB), 1.25});
  return ratios;
}

}  // namespace
}  // namespace reservoir::bench

int main(int argc, char** argv) {
  reservoir::bench::RatioReporter reporter(argc, argv);
  const std::vector<reservoir::bench::RatioLine> ratios =
      reservoir::bench::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios(ratios);
  benchmark::Shutdown();
  return 0;
}
