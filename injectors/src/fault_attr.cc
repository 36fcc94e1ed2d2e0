#include "reservoir/injectors/fault_attr.h"

namespace reservoir::injectors {
namespace {

// Steps 2..7: the attribute's own decision once fail_nth is out of the way.
FaultCause DecideByAttr(const FaultAttrConfig& config, FaultAttrState& state,
                        uint64_t size, const FaultCall& call,
                        DecisionSource* input) {
  const bool input_mode = config.mode == DecisionMode::kInput;
  if (!input_mode && config.probability.is_zero()) return FaultCause::kNone;
  // fail_task(): in_task() && make_it_fail; the simulated task has
  // make-it-fail set, so only the context matters.
  if (config.task_filter && call.in_softirq) return FaultCause::kNone;
  if (state.times == 0) return FaultCause::kNone;
  if (state.space > size) {
    state.space -= size;
    return FaultCause::kNone;
  }
  if (config.interval > 1) {
    // The kernel counts first, so interval N fails calls N, 2N, ...
    ++state.count;
    if (state.count % config.interval != 0) return FaultCause::kNone;
  }
  const bool drawn =
      input_mode
          ? input != nullptr && input->NextDecision(call)
          : config.probability.Fails(state.random.Below(Probability::kScale));
  if (!drawn) return FaultCause::kNone;
  if (!CallSiteMayFail(config, call.call_site)) return FaultCause::kNone;
  return input_mode ? FaultCause::kInput : FaultCause::kRandom;
}

}  // namespace

const char* DecisionModeName(DecisionMode mode) {
  switch (mode) {
    case DecisionMode::kRandom:
      return "random";
    case DecisionMode::kInput:
      return "input";
  }
  return "unknown";
}

std::optional<DecisionMode> ParseDecisionMode(std::string_view name) {
  if (name == "random") return DecisionMode::kRandom;
  if (name == "input") return DecisionMode::kInput;
  return std::nullopt;
}

const char* FaultCauseName(FaultCause cause) {
  switch (cause) {
    case FaultCause::kNone:
      return "none";
    case FaultCause::kFailNth:
      return "fail-nth";
    case FaultCause::kRandom:
      return "random";
    case FaultCause::kInput:
      return "input";
  }
  return "unknown";
}

bool CallSiteMayFail(const FaultAttrConfig& config, const char* call_site) {
  // As fail_stacktrace(): a rejected frame wins over a required one, and
  // with no require list every call is "found".
  if (config.reject_callers.Contains(call_site)) return false;
  return config.require_callers.empty() ||
         config.require_callers.Contains(call_site);
}

FaultCause ShouldFailEx(const FaultAttrConfig& config, FaultAttrState& state,
                        FailNthCountdown& context, uint64_t size,
                        const FaultCall& call, DecisionSource* input) {
  FaultCause cause = FaultCause::kNone;
  switch (context.Advance(call.in_softirq)) {
    case FailNthCountdown::Step::kFire:
      cause = FaultCause::kFailNth;
      break;
    case FailNthCountdown::Step::kHold:
      return FaultCause::kNone;
    case FailNthCountdown::Step::kDisarmed:
      cause = DecideByAttr(config, state, size, call, input);
      if (cause == FaultCause::kNone) return cause;
      break;
  }
  // The kernel's "fail:" label: a fail_nth failure spends `times` too.
  if (state.times != kUnlimitedTimes && state.times != 0) --state.times;
  return cause;
}

}  // namespace reservoir::injectors
