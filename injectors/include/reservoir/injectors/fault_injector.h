// FaultInjector: the FaultHook the model asks at every fault site. It holds
// one policy per site (capability filters, then should_fail_ex), the
// context's fail_nth, the log of injected failures and per-site statistics,
// and prints a section in every RESERVOIR BUG report. Install it with
// Model::SetFaultHook(&injector); uninstall with SetFaultHook(nullptr)
// before the injector is destroyed.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>

#include "reservoir/fault_site.h"
#include "reservoir/injectors/decision_source.h"
#include "reservoir/injectors/fail_nth.h"
#include "reservoir/injectors/fault_attr.h"
#include "reservoir/injectors/fault_config.h"
#include "reservoir/injectors/fault_log.h"
#include "reservoir/injectors/fault_statistics.h"

namespace reservoir::injectors {

class FaultInjector final : public FaultHook {
 public:
  // Configures, resets and registers the report section.
  explicit FaultInjector(const FaultConfig& config = FaultConfig());
  ~FaultInjector() override;  // unregisters the report section
  // The report registration holds `this`.
  FaultInjector(const FaultInjector&) = delete;
  FaultInjector& operator=(const FaultInjector&) = delete;

  // The decision for one call at a model site. Never allocates.
  bool ShouldFail(const FaultCall& call) override;

  // --- Configuration -------------------------------------------------------
  const FaultConfig& config() const { return config_; }
  // Replaces the configuration, then Reset().
  void Configure(const FaultConfig& config);
  // config().fail_nth = nth (0 = off), then Reset().
  void SetFailNth(uint64_t nth);
  // config().seed = seed, then Reset().
  void SetSeed(uint64_t seed);
  // The canonical configuration line (FormatFaultConfig).
  std::string ConfigLine() const;

  // Back to the configured initial state, as if just configured: times,
  // space, interval counts, draw streams, eligible-call numbers, fail_nth
  // re-armed, log emptied. Statistics and suspension are kept. A few
  // hundred bytes of stores: cheap enough for every fuzz input.
  void Reset();

  // --- Input-driven mode ---------------------------------------------------
  // Where input-mode sites take their decisions (not owned; null = every
  // draw says "do not fail"). Reset() does not touch it.
  void set_decision_source(DecisionSource* source) { decisions_ = source; }
  DecisionSource* decision_source() const { return decisions_; }

  // --- Scope ---------------------------------------------------------------
  // While suspended every call passes and counts only as "suspended": no
  // eligible-call number, no fail_nth, no space. Nests.
  void Suspend() { ++suspend_depth_; }
  void Resume() {
    if (suspend_depth_ > 0) --suspend_depth_;
  }
  bool suspended() const { return suspend_depth_ > 0; }

  // --- This run (since Reset) ----------------------------------------------
  uint64_t context_calls() const { return context_calls_; }
  uint64_t site_calls(FaultSite site) const {
    return sites_[static_cast<int>(site)].eligible_calls;
  }
  uint64_t injected() const { return log_.recorded(); }
  bool fail_nth_fired() const { return fail_nth_.fired(); }
  uint64_t fail_nth_remaining() const { return fail_nth_.remaining(); }
  const FaultLog& log() const { return log_; }

  // --- Across runs ---------------------------------------------------------
  const FaultStatistics& statistics() const { return statistics_; }
  void ClearStatistics() { statistics_.Clear(); }
  // The table, then the JSON line.
  void PrintStatistics(FILE* out) const;

  // --- Output --------------------------------------------------------------
  // Where verbose notices go (stderr unless changed).
  void set_verbose_output(FILE* out) { verbose_output_ = out; }
  // The section printed in every RESERVOIR BUG report: the failures
  // injected since Reset() and the configuration line that replays them.
  void PrintReportSection(FILE* out) const;
  // False when the report table was full at construction.
  bool report_section_registered() const { return report_registered_; }

 private:
  struct SiteRun {
    FaultAttrState attr;
    uint64_t eligible_calls = 0;
  };

  void PrintInjectionNotice(FaultSite site, const FaultLogEntry& entry) const;
  static void ReportSectionThunk(FILE* out, void* self);

  FaultConfig config_;
  std::array<SiteRun, kFaultSiteCount> sites_{};
  FailNthCountdown fail_nth_;
  uint64_t context_calls_ = 0;
  FaultLog log_;
  FaultStatistics statistics_;
  DecisionSource* decisions_ = nullptr;
  int suspend_depth_ = 0;
  FILE* verbose_output_ = stderr;
  bool report_registered_ = false;
};

// Suspends injection for a scope, e.g. while a harness builds its fixture.
// A null injector makes it a no-op, so harness code need not check.
class ScopedFaultSuspension {
 public:
  explicit ScopedFaultSuspension(FaultInjector* injector)
      : injector_(injector) {
    if (injector_ != nullptr) injector_->Suspend();
  }
  ~ScopedFaultSuspension() {
    if (injector_ != nullptr) injector_->Resume();
  }
  ScopedFaultSuspension(const ScopedFaultSuspension&) = delete;
  ScopedFaultSuspension& operator=(const ScopedFaultSuspension&) = delete;

 private:
  FaultInjector* injector_;
};

}  // namespace reservoir::injectors
