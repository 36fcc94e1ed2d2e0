// The generic fault attribute and its decision, after lib/fault-inject.c:
// struct fault_attr (probability, interval, times, space, verbose, call-site
// filter) and should_fail_ex(), in the kernel's order. Site files
// (fail_page_alloc.h, failslab.h, fail_reserve.h) run their capability
// filters before it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "reservoir/fault_site.h"
#include "reservoir/injectors/decision_source.h"
#include "reservoir/injectors/fail_nth.h"
#include "reservoir/injectors/name_list.h"
#include "reservoir/injectors/probability.h"
#include "reservoir/injectors/seeded_random.h"

namespace reservoir::injectors {

inline constexpr int64_t kUnlimitedTimes = -1;
inline constexpr int kMaxVerbose = 2;

// Where the draw of should_fail_ex comes from.
enum class DecisionMode : uint8_t {
  kRandom,  // the kernel's: the seeded generator against `probability`
  kInput,   // a DecisionSource (the fuzz input); `probability` is not used
};
const char* DecisionModeName(DecisionMode mode);
std::optional<DecisionMode> ParseDecisionMode(std::string_view name);

// Why a call was failed.
enum class FaultCause : uint8_t { kNone, kFailNth, kRandom, kInput };
const char* FaultCauseName(FaultCause cause);

// The configured attribute. Defaults are the kernel's FAULT_ATTR_INITIALIZER:
// probability 0 (off), interval 1, times 1, space 0, verbose 2.
struct FaultAttrConfig {
  Probability probability;
  uint64_t interval = 1;  // 0 and 1 both mean "every call"
  int64_t times = 1;      // failures left; kUnlimitedTimes = no limit
  uint64_t space = 0;     // units (see SiteCallSize) to let pass first
  int verbose = 2;        // 0 quiet, 1 one notice, 2 notice and details
  DecisionMode mode = DecisionMode::kRandom;
  // The kernel's stack-trace filter, by name: the call's call_site must be
  // in require_callers (when that list is not empty) and must not be in
  // reject_callers.
  NameList require_callers;
  NameList reject_callers;
  // The kernel's task-filter (make-it-fail): only calls in task context may
  // fail; a call in softirq (FaultCall::in_softirq, in_task() false) passes.
  // The simulated task has make-it-fail set, so in task context the filter
  // lets every call through.
  bool task_filter = false;

  friend bool operator==(const FaultAttrConfig&,
                         const FaultAttrConfig&) = default;
};

// What counts down while the model runs; Reset() returns to the configured
// initial state and is a handful of stores.
struct FaultAttrState {
  int64_t times = 0;
  uint64_t space = 0;
  uint64_t count = 0;  // calls the interval test has seen
  SeededRandom random;

  void Reset(const FaultAttrConfig& config, uint64_t stream_seed) {
    times = config.times;
    space = config.space;
    count = 0;
    random = SeededRandom(stream_seed);
  }
};

// True when the call-site filter lets the call fail.
bool CallSiteMayFail(const FaultAttrConfig& config, const char* call_site);

// should_fail_ex for one eligible call, in the kernel's order:
//   1. the context's fail_nth: armed and reached -> fail; armed and not
//      reached -> pass, nothing else consumed (a call in softirq skips this
//      step when the countdown is task-only, as in the kernel);
//   2. probability 0 -> pass (skipped in input mode);
//   2a. task_filter and a call in softirq -> pass;
//   3. times == 0 -> pass;
//   4. space > size -> space -= size, pass;
//   5. interval > 1 -> count += 1, count % interval != 0 -> pass;
//   6. the draw (seeded generator, or the DecisionSource in input mode)
//      says no -> pass;
//   7. the call-site filter rejects -> pass;
//   then fail; on every failure (fail_nth included) times counts down
//   unless it is kUnlimitedTimes or already 0.
// `size` is what the call spends from `space`. `input` may be null (an
// input-mode site with no source never fails by draw). Never allocates.
FaultCause ShouldFailEx(const FaultAttrConfig& config, FaultAttrState& state,
                        FailNthCountdown& context, uint64_t size,
                        const FaultCall& call, DecisionSource* input);

}  // namespace reservoir::injectors
