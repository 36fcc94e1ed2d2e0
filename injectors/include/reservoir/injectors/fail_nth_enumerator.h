// Systematic fault injection, syzkaller's way: run the same workload with
// fail_nth = 1, 2, 3, ... so each run fails one more eligible call, until a
// run has fewer than N eligible calls (the armed call never came). Every
// error path the workload can reach through one failure is walked once.
#pragma once

#include <cstdint>
#include <limits>

#include "absl/functional/function_ref.h"
#include "reservoir/injectors/fault_injector.h"

namespace reservoir::injectors {

struct FailNthWalk {
  uint64_t runs = 0;  // workload runs, the last (unfailed) included
  uint64_t failures_injected = 0;  // runs whose N-th call was failed
  bool stopped_at_limit = false;   // max_nth reached before the walk ended
};

// For N = 1, 2, ...: injector.SetFailNth(N) (which resets it), then
// workload(N). Stops after the first run in which the N-th call was not
// reached, or after N = max_nth. The workload builds its own fresh state
// (a new or reset Model with the injector installed) on every call.
// Restores the injector's configured fail_nth at the end.
FailNthWalk EnumerateFailNth(
    FaultInjector& injector, absl::FunctionRef<void(uint64_t nth)> workload,
    uint64_t max_nth = std::numeric_limits<uint64_t>::max());

}  // namespace reservoir::injectors
