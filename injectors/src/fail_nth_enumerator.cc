#include "reservoir/injectors/fail_nth_enumerator.h"

namespace reservoir::injectors {

FailNthWalk EnumerateFailNth(FaultInjector& injector,
                             absl::FunctionRef<void(uint64_t nth)> workload,
                             uint64_t max_nth) {
  const uint64_t configured_nth = injector.config().fail_nth;
  FailNthWalk walk;
  for (uint64_t nth = 1;; ++nth) {
    if (nth > max_nth || nth == 0) {  // nth == 0: the counter wrapped
      walk.stopped_at_limit = true;
      break;
    }
    injector.SetFailNth(nth);
    workload(nth);
    ++walk.runs;
    if (!injector.fail_nth_fired()) break;
    ++walk.failures_injected;
  }
  injector.SetFailNth(configured_nth);
  return walk;
}

}  // namespace reservoir::injectors
