// Turns a program header's fault policy into an installed FaultInjector:
// kernel-style random failures, the fail_nth-th eligible call, or the
// program's own fail_next decisions. Only armed sites can fail in the
// random and fail-nth modes; injection is suspended while the executor sets
// up and tears down, so only the program's own operations ever fail.
#pragma once

#include <array>
#include <cstdint>

#include "reservoir/fault_site.h"
#include "reservoir/injectors/decision_source.h"
#include "reservoir/injectors/fault_injector.h"
#include "reservoir/program/header.h"

namespace reservoir::exec {

class FaultPlan final : public FaultHook, private injectors::DecisionSource {
 public:
  FaultPlan();

  // Configures for `header` and resets; returns the hook to install, or
  // null when the header asks for no injection.
  FaultHook* Prepare(const program::Header& header);

  // fail_next: the (skip + 1)-th next eligible call at `site` fails.
  void FailNext(FaultSite site, uint32_t skip);

  // While suspended no call fails and nothing is counted.
  void Suspend() { injector_.Suspend(); }
  void Resume() { injector_.Resume(); }

  uint64_t injected() const { return injector_.injected(); }
  const injectors::FaultInjector& injector() const { return injector_; }

  bool ShouldFail(const FaultCall& call) override;

 private:
  bool NextDecision(const FaultCall& call) override;

  injectors::FaultInjector injector_;
  uint8_t armed_sites_ = 0;
  program::FaultMode mode_ = program::FaultMode::kNone;
  // fail_next countdowns per site; 0 = nothing scheduled.
  std::array<uint32_t, kFaultSiteCount> fail_next_{};
};

}  // namespace reservoir::exec
