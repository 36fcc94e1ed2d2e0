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
  std::array<SiteConfig, kFaultSiteCount> sites{};

  SiteConfig& site(FaultSite s) { return sites[IndexOfSite(s)]; }
  const SiteConfig& site(FaultSite s) const { return sites[IndexOfSite(s)]; }

  friend bool operator==(const FaultConfig&, const FaultConfig&) = default;
};

}  // namespace reservoir::injectors
