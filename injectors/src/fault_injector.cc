#include "reservoir/injectors/fault_injector.h"

#include <cinttypes>

#include "reservoir/injectors/fault_config_syntax.h"
#include "reservoir/injectors/site_config.h"
#include "reservoir/report.h"

namespace reservoir::injectors {

FaultInjector::FaultInjector(const FaultConfig& config) : config_(config) {
  Reset();
  report_registered_ = RegisterReportProvider(&ReportSectionThunk, this);
}

FaultInjector::~FaultInjector() {
  if (report_registered_) UnregisterReportProvider(&ReportSectionThunk, this);
}

bool FaultInjector::ShouldFail(const FaultCall& call) {
  const int index = static_cast<int>(call.site);
  if (index < 0 || index >= kFaultSiteCount) return false;
  SiteStatistics& stats = statistics_.site(call.site);
  if (suspend_depth_ > 0) {
    ++stats.suspended;
    return false;
  }
  const SiteConfig& config = config_.sites[index];
  if (SiteCallIsExempt(call.site, config, call)) {
    ++stats.filtered;
    return false;
  }
  ++stats.eligible;
  SiteRun& site = sites_[index];
  ++site.eligible_calls;
  ++context_calls_;
  const FaultCause cause =
      ShouldFailEx(config.attr, site.attr, fail_nth_,
                   SiteCallSize(call.site, call), call, decisions_);
  if (cause == FaultCause::kNone) return false;

  ++stats.injected;
  log_.Record(call, cause, site.eligible_calls, context_calls_);
  // __GFP_NOWARN silences the notice, as FAULT_NOWARN does in the kernel.
  if (config.attr.verbose > 0 && (call.gfp & kGfpNoWarn) == 0) {
    PrintInjectionNotice(call.site, *log_.newest());
  }
  return true;
}

void FaultInjector::Configure(const FaultConfig& config) {
  config_ = config;
  Reset();
}

void FaultInjector::SetFailNth(uint64_t nth) {
  config_.fail_nth = nth;
  Reset();
}

void FaultInjector::SetSeed(uint64_t seed) {
  config_.seed = seed;
  Reset();
}

std::string FaultInjector::ConfigLine() const {
  return FormatFaultConfig(config_);
}

void FaultInjector::Reset() {
  for (int i = 0; i < kFaultSiteCount; ++i) {
    sites_[i].attr.Reset(config_.sites[i].attr,
                         SeededRandom::StreamSeed(config_.seed, i));
    sites_[i].eligible_calls = 0;
  }
  fail_nth_.Arm(config_.fail_nth);
  fail_nth_.set_task_only(config_.fail_nth_task_only);
  context_calls_ = 0;
  log_.Clear();
}

void FaultInjector::PrintStatistics(FILE* out) const {
  statistics_.PrintTable(out);
  std::fprintf(out, "%s\n", statistics_.ToJson().c_str());
}

// Off the decision path on purpose: only failures with verbose > 0 get here.
__attribute__((noinline)) void FaultInjector::PrintInjectionNotice(
    FaultSite site, const FaultLogEntry& entry) const {
  const FaultAttrConfig& attr = config_.site(site).attr;
  const FaultAttrState& state = sites_[static_cast<int>(site)].attr;
  char probability[Probability::kMaxTextSize];
  attr.probability.Format(probability);
  std::fprintf(verbose_output_,
               "FAULT_INJECTION: forcing a failure.\n"
               "site %s, mode %s, interval %" PRIu64
               ", probability %s,"
               " space %" PRIu64 " left, times %" PRId64 " left\n",
               SiteConfigName(site), DecisionModeName(attr.mode), attr.interval,
               probability, state.space, state.times);
  if (attr.verbose > 1) {
    std::fputs("fault: ", verbose_output_);
    PrintFaultLogEntry(verbose_output_, entry);
    std::fputc('\n', verbose_output_);
  }
}

}  // namespace reservoir::injectors
