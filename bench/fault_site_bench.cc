// fault_site_bench: what the model's fault sites cost when nothing is
// injected. One source, two binaries (bench/CMakeLists.txt):
//   fault_site_bench           sites compiled in; measured with no hook, a
//                              trivial installed hook that always answers
//                              false, and (when injectors/ builds) a real
//                              FaultInjector with its default configuration,
//                              which injects nothing
//   fault_site_bench_nofaults  the allocator built with
//                              RESERVOIR_NO_FAULT_SITES: FaultGate::ShouldFail
//                              is a constant false, the sites are gone
// Same benchmark names in both, so bench/compare_fault_sites.sh can divide
// one by the other. kmalloc/kfree passes one site (slab_object), an
// alloc_pages/free_pages pair one (page_alloc). Audit off, so the sites are
// a larger share of what is measured.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "pair_loops.h"
#include "ratio_reporter.h"
#include "reservoir/model.h"

#if defined(RESERVOIR_BENCH_WITH_INJECTORS)
#include "reservoir/injectors/fault_injector.h"
#endif

namespace reservoir::bench {
namespace {

constexpr size_t kKmallocSize = 64;
constexpr int kPageOrder = 0;

enum class HookKind { kNone, kAlwaysFalse, kDisabledInjector };

const char* HookName(HookKind kind) {
  switch (kind) {
    case HookKind::kNone: return "no_hook";
    case HookKind::kAlwaysFalse: return "false_hook";
    case HookKind::kDisabledInjector: return "disabled_injector";
  }
  return "unknown";
}

// A stand-in for an injector that is compiled in but switched off.
class AlwaysFalseHook final : public FaultHook {
 public:
  bool ShouldFail(const FaultCall&) override { return false; }
};

// Owns the model and whatever hook the variant installs; uninstalls the
// hook before it goes away.
class HookedModel {
 public:
  explicit HookedModel(HookKind kind) : model_(Config()) {
    switch (kind) {
      case HookKind::kNone: break;
      case HookKind::kAlwaysFalse: model_.SetFaultHook(&always_false_); break;
      case HookKind::kDisabledInjector:
#if defined(RESERVOIR_BENCH_WITH_INJECTORS)
        model_.SetFaultHook(&injector_);
#endif
        break;
    }
  }
  ~HookedModel() { model_.SetFaultHook(nullptr); }
  Model& model() { return model_; }

 private:
  static ModelConfig Config() {
    ModelConfig config;
    config.audit = AuditLevel::kOff;
    return config;
  }

  AlwaysFalseHook always_false_;
#if defined(RESERVOIR_BENCH_WITH_INJECTORS)
  injectors::FaultInjector injector_;  // default config: injects nothing
#endif
  Model model_;
};

std::string KmallocName(HookKind kind) {
  return "fault_sites/kmalloc_kfree/" + std::to_string(kKmallocSize) + "/" +
         HookName(kind);
}

std::string PagesName(HookKind kind) {
  return "fault_sites/alloc_free_pages/order:" + std::to_string(kPageOrder) +
         "/" + HookName(kind);
}

void BM_KmallocKfree(benchmark::State& state, HookKind kind) {
  HookedModel hooked(kind);
  Model& model = hooked.model();
  bench::KmallocKfreePairs(state, model, kKmallocSize);
  if (model.fault_gate().injected_total() != 0)
    state.SkipWithError("a fault was injected");
}

void BM_AllocFreePages(benchmark::State& state, HookKind kind) {
  HookedModel hooked(kind);
  Model& model = hooked.model();
  bench::AllocFreePagePairs(state, model, kPageOrder);
  if (model.fault_gate().injected_total() != 0)
    state.SkipWithError("a fault was injected");
}

std::vector<RatioLine> RegisterAll() {
  std::vector<HookKind> kinds = {HookKind::kNone};
#if !defined(RESERVOIR_NO_FAULT_SITES)
  // With the sites compiled out a hook is never asked: nothing to measure.
  kinds.push_back(HookKind::kAlwaysFalse);
#if defined(RESERVOIR_BENCH_WITH_INJECTORS)
  kinds.push_back(HookKind::kDisabledInjector);
#endif
#endif
  std::vector<RatioLine> ratios;
  for (HookKind kind : kinds) {
    benchmark::RegisterBenchmark(KmallocName(kind).c_str(), BM_KmallocKfree,
                                 kind);
    benchmark::RegisterBenchmark(PagesName(kind).c_str(), BM_AllocFreePages,
                                 kind);
    if (kind == HookKind::kNone) continue;
    ratios.push_back({std::string("kmalloc/kfree 64 ") + HookName(kind) +
                          " vs no_hook",
                      KmallocName(kind), KmallocName(HookKind::kNone), 0});
    ratios.push_back({std::string("alloc/free_pages order 0 ") +
                          HookName(kind) + " vs no_hook",
                      PagesName(kind), PagesName(HookKind::kNone), 0});
  }
  return ratios;
}

}  // namespace
}  // namespace reservoir::bench

int main(int argc, char** argv) {
  reservoir::bench::RatioReporter reporter(argc, argv);
  const std::vector<reservoir::bench::RatioLine> ratios =
      reservoir::bench::RegisterAll();
  benchmark::AddCustomContext("fault_sites",
#if defined(RESERVOIR_NO_FAULT_SITES)
                              "compiled out (RESERVOIR_NO_FAULT_SITES)"
#else
                              "compiled in"
#endif
  );
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  if (!ratios.empty()) reporter.PrintRatios(ratios);
  benchmark::Shutdown();
  return 0;
}
