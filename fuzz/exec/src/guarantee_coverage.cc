// The executor's guarantee coverage (see guarantee_coverage.h).
#include "reservoir/exec/guarantee_coverage.h"

#include <algorithm>

namespace reservoir::exec {

void GuaranteeCoverage::Clear(ReserveHandle root) {
  std::fill(std::begin(nodes_), std::end(nodes_), Node{});
  std::fill(std::begin(instance_), std::end(instance_), 0);
  std::fill(std::begin(slot_), std::end(slot_), 0);
  root_ = root;
  stood_down_ = false;
}

void GuaranteeCoverage::CacheCreated(CacheHandle cache, uint32_t slot_size) {
  if (cache < 0 || cache >= kMaxCacheHandles) return;
  ++instance_[cache];
  slot_[cache] = slot_size;
}

uint32_t GuaranteeCoverage::SlotSize(CacheHandle cache) const {
  if (cache < 0 || cache >= kMaxCacheHandles) return 0;
  return slot_[cache];
}

void GuaranteeCoverage::DemandSet(ReserveHandle node, Demand kind,
                                  CacheHandle cache, uint64_t demand_units,
                                  uint64_t pages_before, uint64_t pages_after,
                                  uint64_t reserve_pages_in_use) {
  if (node >= ShadowLedger::kMaxNodes) return;
  Node& n = nodes_[node];
  const Demand new_kind = demand_units == 0 ? Demand::kGroup : kind;
  const bool retargeted =
      n.kind != Demand::kGroup &&
      (new_kind != n.kind || (kind == Demand::kCache && cache != n.cache));
  if ((retargeted || pages_after < pages_before) && reserve_pages_in_use > 0) {
    stood_down_ = true;
  }
  n.kind = new_kind;
  n.cache = kind == Demand::kCache ? cache : kNoCache;
  n.cache_instance =
      kind == Demand::kCache && cache >= 0 && cache < kMaxCacheHandles
          ? instance_[cache]
          : 0;
}

bool GuaranteeCoverage::Budgets(const ShadowLedger& ledger,
                                ReserveHandle node, Demand kind,
                                CacheHandle cache) const {
  if (node >= ShadowLedger::kMaxNodes) return false;
  const Node& n = nodes_[node];
  if (n.kind != kind) return false;
  ReserveHandle top = node;
  for (int guard = 0; guard < ShadowLedger::kMaxNodes; ++guard) {
    const ReserveHandle up = ledger.parent(top);
    if (up == kNoReserveHandle) break;
    top = up;
  }
  if (top != root_) return false;
  if (kind != Demand::kCache) return true;
  return cache == n.cache && cache >= 0 && cache < kMaxCacheHandles &&
         n.cache_instance == instance_[cache];
}

}  // namespace reservoir::exec
