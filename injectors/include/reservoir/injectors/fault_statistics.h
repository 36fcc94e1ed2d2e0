// Per-site counts of what the injector saw, kept across Reset() so a fuzzing
// campaign can print totals at exit.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>

#include "reservoir/fault_site.h"

namespace reservoir::injectors {

struct SiteStatistics {
  uint64_t eligible = 0;   // passed the capability filters
  uint64_t filtered = 0;   // stopped by a capability filter
  uint64_t injected = 0;   // failed (a subset of eligible)
  uint64_t suspended = 0;  // arrived while injection was suspended

  friend bool operator==(const SiteStatistics&,
                         const SiteStatistics&) = default;
};

class FaultStatistics {
 public:
  SiteStatistics& site(FaultSite s) { return sites_[static_cast<int>(s)]; }
  const SiteStatistics& site(FaultSite s) const {
    return sites_[static_cast<int>(s)];
  }
  void Clear() { sites_ = {}; }

  // A table for people, one row per site and a total.
  void PrintTable(FILE* out) const;
  // One line of JSON for tools:
  // {"fault_statistics":{"fail_page_alloc":{"eligible":1,...},...}}
  std::string ToJson() const;

 private:
  std::array<SiteStatistics, kFaultSiteCount> sites_{};
};

}  // namespace reservoir::injectors
