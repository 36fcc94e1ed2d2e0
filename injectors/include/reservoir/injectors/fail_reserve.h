// fail_reserve_charge and fail_reserve_set: Reservoir's own sites (no kernel
// counterpart) for a charge against a reserve node and for a change of a
// node's size. Their one capability filter mirrors failslab's cache-filter.
#pragma once

#include <cstdint>

#include "reservoir/fault_site.h"
#include "reservoir/gfp.h"
#include "reservoir/injectors/name_list.h"

namespace reservoir::injectors {

struct ReserveFilter {
  // Only these reserve nodes may fail; empty = every node.
  NameList reserve_filter;

  friend bool operator==(const ReserveFilter&, const ReserveFilter&) = default;
};

inline bool ReserveCallIsExempt(const ReserveFilter& filter,
                                const FaultCall& call) {
  if (call.gfp & kGfpNoFail) return true;
  if (!filter.reserve_filter.empty() &&
      !filter.reserve_filter.Contains(call.reserve))
    return true;
  return false;
}

// A charge spends its amount (in the node's unit); a set spends the size
// asked for.
inline uint64_t ReserveCallSize(const FaultCall& call) { return call.size; }

}  // namespace reservoir::injectors
