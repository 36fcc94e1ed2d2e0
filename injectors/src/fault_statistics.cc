#include "reservoir/injectors/fault_statistics.h"

#include <cinttypes>

#include "absl/strings/str_cat.h"
#include "reservoir/injectors/site_config.h"

namespace reservoir::injectors {

void FaultStatistics::PrintTable(FILE* out) const {
  constexpr const char* kRow =
      "%-20s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n";
  std::fprintf(out, "%-20s %12s %12s %12s %12s\n", "fault site", "eligible",
               "filtered", "injected", "suspended");
  SiteStatistics total;
  for (int i = 0; i < kFaultSiteCount; ++i) {
    const SiteStatistics& s = sites_[i];
    std::fprintf(out, kRow, SiteConfigName(SiteAt(i)), s.eligible, s.filtered,
                 s.injected, s.suspended);
    total.eligible += s.eligible;
    total.filtered += s.filtered;
    total.injected += s.injected;
    total.suspended += s.suspended;
  }
  std::fprintf(out, kRow, "total", total.eligible, total.filtered,
               total.injected, total.suspended);
}

std::string FaultStatistics::ToJson() const {
  std::string json = "{\"fault_statistics\":{";
  for (int i = 0; i < kFaultSiteCount; ++i) {
    const SiteStatistics& s = sites_[i];
    absl::StrAppend(&json, i == 0 ? "" : ",", "\"", SiteConfigName(SiteAt(i)),
                    "\":{\"eligible\":", s.eligible,
                    ",\"filtered\":", s.filtered, ",\"injected\":", s.injected,
                    ",\"suspended\":", s.suspended, "}");
  }
  json += "}}";
  return json;
}

}  // namespace reservoir::injectors
