// The whole fault-injection configuration: the run's seed, the context's
// fail_nth and one SiteConfig per fault site. A default FaultConfig injects
// nothing (every probability is 0 and fail_nth is off) and carries the
// kernel's defaults for every other knob.
#pragma once

#include <array>
#include <cstdint>

#include "reservoir/fault_site.h"
#include "reservoir/injectors/site_config.h"

namespace reservoir::injectors {

struct FaultConfig {
  uint64_t seed = 0;      // every site's draw stream derives from it
  uint64_t fail_nth = 0;  // fail the N-th eligible call of any site; 0 = off
  // Count fail_nth in task context only, as the kernel does (calls in
  // softirq neither count down nor fire). Off by default: every eligible
  // call counts, which is what fuzz programs' fail_nth mode means.
  bool fail_nth_task_only = false;
  std::array<SiteConfig, kFaultSiteCount> sites{};

  SiteConfig& site(FaultSite s) { return sites[IndexOfSite(s)]; }
  const SiteConfig& site(FaultSite s) const { return sites[IndexOfSite(s)]; }

  friend bool operator==(const FaultConfig&, const FaultConfig&) = default;
};

}  // namespace reservoir::injectors
