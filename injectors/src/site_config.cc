#include "reservoir/injectors/site_config.h"

namespace reservoir::injectors {

std::optional<FaultSite> SiteFromConfigName(std::string_view name) {
  for (int i = 0; i < kFaultSiteCount; ++i) {
    if (name == SiteConfigName(SiteAt(i))) return SiteAt(i);
  }
  return std::nullopt;
}

}  // namespace reservoir::injectors
