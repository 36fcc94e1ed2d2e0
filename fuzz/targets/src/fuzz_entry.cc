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
bool g_request_checks = true;
// The decoded program's operation storage: every body the decoder makes
// (program::kMaxOps) with room for a target's set-up operations.
constexpr size_t kProgramCapacity = 2 * reservoir::program::kMaxOps;

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
  // A bad RESERVOIR_FAULT_MODE stops the run here, not at the first input.
  reservoir::targets::ForcedFaultMode();
  // RESERVOIR_REQUEST_CHECKS=0 runs the oracle without the executor's
  // request-level checks (docs/ORACLE.md), to measure what they cost.
  if (const char* checks = std::getenv("RESERVOIR_REQUEST_CHECKS")) {
    if (std::strcmp(checks, "0") != 0 && std::strcmp(checks, "1") != 0) {
      std::fprintf(stderr, "%s: RESERVOIR_REQUEST_CHECKS=%s: expected 0 or 1\n",
                   RESERVOIR_TARGET_NAME, checks);
      std::exit(2);
    }
    g_request_checks = checks[0] == '1';
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
  // One program per process, decoded into: its operation storage is
  // reused, so an input allocates nothing to be decoded.
  static reservoir::program::Program& program = [] () -> auto& {
    auto* p = new reservoir::program::Program();
    p->ops.reserve(kProgramCapacity);
    return *p;
  }();
  reservoir::targets::DecodeForTargetInto(*g_target, {data, size}, &program);
  if (g_program_ops != 0) {
    static std::vector<reservoir::program::Op>& own =
        *new std::vector<reservoir::program::Op>();
    static const size_t prologue =
        reservoir::targets::DecodeForTarget(*g_target, {}).ops.size();
    own.assign(program.ops.begin() + prologue, program.ops.end());
    program.ops.resize(prologue);
    for (size_t i = 0; i < g_program_ops; ++i) {
      program.ops.push_back(own.empty() ? reservoir::program::Op{}
                                        : own[i % own.size()]);
    }
  }
  reservoir::exec::ExecOptions options;
  options.request_checks = g_request_checks;
  executor->Run(program, options);
  // The next input decodes into the same capacity whatever this one grew
  // it to (a decode that reallocates takes other edges than one that does
  // not; see reservoir/unsteered.h): an input that grew it pays for that.
  if (program.ops.capacity() != kProgramCapacity) {
    std::vector<reservoir::program::Op> fresh;
    fresh.reserve(kProgramCapacity);
    program.ops.swap(fresh);
  }
  return 0;
}
