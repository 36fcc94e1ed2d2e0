// The engine-neutral entry points of one fuzz target (libFuzzer's
// interface, which AFL++ and the replay driver also speak). The target is
// chosen at build time by RESERVOIR_TARGET_NAME.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "reservoir/exec/executor.h"
#include "reservoir/targets/target_profile.h"

namespace {

const reservoir::targets::TargetProfile* g_target = nullptr;
// RESERVOIR_PROGRAM_OPS=N (benchmarks only): every input runs exactly N
// operations after the prologue, its own repeated in order as needed, so
// throughput can be measured per program length under the real engine.
size_t g_program_ops = 0;
// RESERVOIR_FAULT_MODE=none|random|fail_nth|input (the bug benchmark's
// fault-injection configurations): every input runs with this fault mode
// instead of the one its header chose. random and fail_nth arm every site
// when the header armed none, and random fails 1 % of the eligible calls
// when the header's probability is 0, so the forced mode always can fire.
bool g_force_fault_mode = false;
reservoir::program::FaultMode g_fault_mode = reservoir::program::FaultMode::kNone;

bool ParseFaultMode(const char* value, reservoir::program::FaultMode* out) {
  using reservoir::program::FaultMode;
  static constexpr struct {
    const char* name;
    FaultMode mode;
  } kModes[] = {{"none", FaultMode::kNone},
                {"random", FaultMode::kRandom},
                {"fail_nth", FaultMode::kFailNth},
                {"input", FaultMode::kInput}};
  for (const auto& m : kModes) {
    if (std::strcmp(value, m.name) == 0) {
      *out = m.mode;
      return true;
    }
  }
  return false;
}

void ForceFaultMode(reservoir::program::Header* header) {
  using reservoir::program::FaultMode;
  header->fault_mode = g_fault_mode;
  if (g_fault_mode == FaultMode::kRandom || g_fault_mode == FaultMode::kFailNth) {
    if (header->armed_sites == 0) header->armed_sites = reservoir::program::kAllSitesMask;
  }
  if (g_fault_mode == FaultMode::kRandom && header->probability_ppm == 0) {
    header->probability_ppm = 10000;
  }
}

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
  if (const char* ops = std::getenv("RESERVOIR_PROGRAM_OPS")) {
    char* end = nullptr;
    const unsigned long n = std::strtoul(ops, &end, 10);
    if (*ops == '\0' || *end != '\0' || n == 0 || n > 4096) {
      std::fprintf(stderr, "%s: RESERVOIR_PROGRAM_OPS=%s: expected 1..4096\n",
                   RESERVOIR_TARGET_NAME, ops);
      std::exit(2);
    }
    g_program_ops = n;
  }
  if (const char* mode = std::getenv("RESERVOIR_FAULT_MODE")) {
    if (!ParseFaultMode(mode, &g_fault_mode)) {
      std::fprintf(stderr, "%s: RESERVOIR_FAULT_MODE=%s: expected none, random, "
                   "fail_nth or input\n", RESERVOIR_TARGET_NAME, mode);
      std::exit(2);
    }
    g_force_fault_mode = true;
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
  reservoir::program::Program program =
      reservoir::targets::DecodeForTarget(*g_target, {data, size});
  if (g_force_fault_mode) ForceFaultMode(&program.header);
  if (g_program_ops != 0) {
    const reservoir::program::Program body =
        reservoir::targets::DecodeForTarget(*g_target, {});
    const size_t prologue = body.ops.size();
    std::vector<reservoir::program::Op> own(program.ops.begin() + prologue,
                                            program.ops.end());
    program.ops.resize(prologue);
    for (size_t i = 0; i < g_program_ops; ++i) {
      program.ops.push_back(own.empty() ? reservoir::program::Op{}
                                        : own[i % own.size()]);
    }
  }
  executor->Run(program);
  return 0;
}
