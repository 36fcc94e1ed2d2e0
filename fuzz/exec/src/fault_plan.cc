// The fault policy of one program run.
#include "reservoir/exec/fault_plan.h"

namespace reservoir::exec {

using injectors::DecisionMode;
using injectors::FaultConfig;
using injectors::Probability;
using program::FaultMode;

FaultPlan::FaultPlan() { injector_.set_decision_source(this); }

FaultHook* FaultPlan::Prepare(const program::Header& header) {
  mode_ = header.fault_mode;
  armed_sites_ = header.armed_sites;
  fail_next_.fill(0);
  if (mode_ == FaultMode::kNone) return nullptr;

  FaultConfig config;
  config.seed = header.seed;
  if (mode_ == FaultMode::kFailNth) config.fail_nth = header.fail_nth;
  for (int i = 0; i < kFaultSiteCount; ++i) {
    // A program arms the sites it wants failed: none of the kernel's
    // default exemptions (order 0, requests that may block, highmem)
    // should quietly keep most of its calls from ever failing.
    config.sites[i].page_alloc.min_order = 0;
    config.sites[i].page_alloc.ignore_gfp_wait = false;
    config.sites[i].page_alloc.ignore_gfp_highmem = false;
    config.sites[i].slab.ignore_gfp_wait = false;
    injectors::FaultAttrConfig& attr = config.sites[i].attr;
    attr.verbose = 0;  // the report section lists what was injected
    attr.times = injectors::kUnlimitedTimes;
    if (mode_ == FaultMode::kRandom && ((armed_sites_ >> i) & 1)) {
      // ppm -> parts per 10^9.
      attr.probability = Probability::FromBillionths(header.probability_ppm * 1000);
    }
    if (mode_ == FaultMode::kInput) attr.mode = DecisionMode::kInput;
  }
  // Configured afresh every time. Skipping it when the policy equals the
  // last input's saved nothing (comparing two configurations walks them as
  // far as copying one does; a program's name lists are empty) and made
  // the path depend on the previous input (reservoir/unsteered.h).
  injector_.Configure(config);
  return this;
}

void FaultPlan::FailNext(FaultSite site, uint32_t skip) {
  fail_next_[static_cast<int>(site)] = skip + 1;
}

bool FaultPlan::ShouldFail(const FaultCall& call) {
  // Random and fail-nth policies apply to armed sites only; an unarmed site
  // is not even an eligible call, so it cannot consume fail_nth.
  if (mode_ != FaultMode::kInput &&
      !((armed_sites_ >> static_cast<int>(call.site)) & 1)) {
    return false;
  }
  return injector_.ShouldFail(call);
}

bool FaultPlan::NextDecision(const FaultCall& call) {
  uint32_t& countdown = fail_next_[static_cast<int>(call.site)];
  if (countdown == 0) return false;
  return --countdown == 0;
}

}  // namespace reservoir::exec
