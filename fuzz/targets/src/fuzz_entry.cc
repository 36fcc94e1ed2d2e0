// The engine-neutral entry points of one fuzz target (libFuzzer's
// interface, which AFL++ and the replay driver also speak). The target is
// chosen at build time by RESERVOIR_TARGET_NAME.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "reservoir/exec/executor.h"
#include "reservoir/targets/target_profile.h"

namespace {

const reservoir::targets::TargetProfile* g_target = nullptr;

bool KnownEstimator(const char* value) {
  return std::strcmp(value, "exact") == 0 || std::strcmp(value, "2n+m") == 0 ||
         std::strcmp(value, "pow2") == 0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  g_target = reservoir::targets::FindTarget(RESERVOIR_TARGET_NAME);
  if (g_target == nullptr) {
    std::fprintf(stderr, "%s: no such target profile\n", RESERVOIR_TARGET_NAME);
    std::exit(2);
  }
  const char* estimator = std::getenv("RESERVOIR_ESTIMATOR");
  if (estimator != nullptr && !KnownEstimator(estimator)) {
    std::fprintf(stderr, "%s: RESERVOIR_ESTIMATOR=%s: expected exact, 2n+m or "
                 "pow2\n", RESERVOIR_TARGET_NAME, estimator);
    std::exit(2);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One executor for the whole process: it keeps models alive across
  // inputs, so an input pays for a reset, not for a new arena.
  static reservoir::exec::Executor* executor = new reservoir::exec::Executor();
  if (g_target == nullptr) LLVMFuzzerInitialize(nullptr, nullptr);
  const reservoir::program::Program program =
      reservoir::targets::DecodeForTarget(*g_target, {data, size});
  executor->Run(program);
  return 0;
}
