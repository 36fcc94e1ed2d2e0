// One fault site's configuration: the generic attribute plus the capability
// filters of the site's kind, and the configuration names of the sites.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "reservoir/fault_site.h"
#include "reservoir/injectors/fail_page_alloc.h"
#include "reservoir/injectors/fail_reserve.h"
#include "reservoir/injectors/failslab.h"
#include "reservoir/injectors/fault_attr.h"

namespace reservoir::injectors {

// Which capability filters a site has.
enum class SiteKind : uint8_t { kPage, kSlab, kReserve };

constexpr SiteKind KindOfSite(FaultSite site) {
  switch (site) {
    case FaultSite::kPageAlloc:
      return SiteKind::kPage;
    case FaultSite::kSlabNewSlab:
    case FaultSite::kSlabObject:
      return SiteKind::kSlab;
    case FaultSite::kReserveCharge:
    case FaultSite::kReserveSet:
    case FaultSite::kCount:
      break;
  }
  return SiteKind::kReserve;
}

// The name of a site in configuration, logs and statistics: the kernel's
// debugfs directory where one exists ("fail_page_alloc", "failslab").
constexpr const char* SiteConfigName(FaultSite site) {
  switch (site) {
    case FaultSite::kPageAlloc:
      return "fail_page_alloc";
    case FaultSite::kSlabNewSlab:
      return "failslab_new_slab";
    case FaultSite::kSlabObject:
      return "failslab";
    case FaultSite::kReserveCharge:
      return "fail_reserve_charge";
    case FaultSite::kReserveSet:
      return "fail_reserve_set";
    case FaultSite::kCount:
      break;
  }
  return "unknown";
}
std::optional<FaultSite> SiteFromConfigName(std::string_view name);

constexpr FaultSite SiteAt(int index) { return static_cast<FaultSite>(index); }
constexpr int IndexOfSite(FaultSite site) { return static_cast<int>(site); }

struct SiteConfig {
  FaultAttrConfig attr;
  // Only the filter of the site's kind is read; the others stay default.
  PageAllocFilter page_alloc;
  SlabFilter slab;
  ReserveFilter reserve;

  friend bool operator==(const SiteConfig&, const SiteConfig&) = default;
};

// The site's capability filters, run before should_fail_ex: true when the
// call is not eligible (it consumes neither fail_nth nor space).
inline bool SiteCallIsExempt(FaultSite site, const SiteConfig& config,
                             const FaultCall& call) {
  switch (KindOfSite(site)) {
    case SiteKind::kPage:
      return PageAllocCallIsExempt(config.page_alloc, call);
    case SiteKind::kSlab:
      return SlabCallIsExempt(config.slab, call);
    case SiteKind::kReserve:
      return ReserveCallIsExempt(config.reserve, call);
  }
  return true;
}

// What the call spends from the site's `space`.
inline uint64_t SiteCallSize(FaultSite site, const FaultCall& call) {
  switch (KindOfSite(site)) {
    case SiteKind::kPage:
      return PageAllocCallSize(call);
    case SiteKind::kSlab:
      return SlabCallSize(call);
    case SiteKind::kReserve:
      return ReserveCallSize(call);
  }
  return 0;
}

}  // namespace reservoir::injectors
