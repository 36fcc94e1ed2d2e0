// The model's side of fault injection: one gate shared by every component,
// holding the installed hook (or none) and remembering whether a failure was
// injected, so oracles can tell an injected failure from a real one.
#pragma once

#include <cstdint>

#include "reservoir/fault_site.h"

namespace reservoir {

class FaultGate {
 public:
  void set_hook(FaultHook* hook) { hook_ = hook; }
  FaultHook* hook() const { return hook_; }

  // Whether a site need build its FaultCall at all: sites test this first,
  // so with no hook installed a site is one load and one branch.
  bool armed() const {
#if defined(RESERVOIR_NO_FAULT_SITES)
    return false;
#else
    return hook_ != nullptr;
#endif
  }

  // The site test: one branch when no hook is installed. A build with
  // RESERVOIR_NO_FAULT_SITES (bench/: the baseline for what the sites cost)
  // makes it a constant, so the compiler drops the sites and the FaultCall
  // they build; the gate keeps its layout, so the Model's does not change.
  bool ShouldFail(const FaultCall& call) {
#if defined(RESERVOIR_NO_FAULT_SITES)
    return false;
#else
    if (hook_ == nullptr) return false;
    return AskHook(call);
#endif
  }

  // Injected failures since the last ClearOperation() / since reset.
  uint64_t injected_in_operation() const { return injected_in_operation_; }
  uint64_t injected_total() const { return injected_total_; }
  void ClearOperation() { injected_in_operation_ = 0; }
  void Reset() { injected_in_operation_ = 0; injected_total_ = 0; }

 private:
  bool AskHook(const FaultCall& call) {
    if (!hook_->ShouldFail(call)) return false;
    ++injected_in_operation_;
    ++injected_total_;
    return true;
  }

  FaultHook* hook_ = nullptr;
  uint64_t injected_in_operation_ = 0;
  uint64_t injected_total_ = 0;
};

}  // namespace reservoir
