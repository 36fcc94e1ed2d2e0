// The shadow ledger's bookkeeping and its comparison with the allocator.
#include "reservoir/exec/shadow_ledger.h"

#include <algorithm>
#include <cstdio>

#include "reservoir/report.h"

namespace reservoir::exec {

void ShadowLedger::Clear() {
  std::fill(std::begin(own_charges_), std::end(own_charges_), 0);
  std::fill(std::begin(parent_), std::end(parent_), kNoReserveHandle);
}

void ShadowLedger::Created(ReserveHandle node, ReserveHandle parent) {
  if (!Tracks(node)) return;
  own_charges_[node] = 0;
  parent_[node] = parent;
}

void ShadowLedger::Attached(ReserveHandle node, ReserveHandle parent) {
  if (Tracks(node)) parent_[node] = parent;
}

void ShadowLedger::Detached(ReserveHandle node) {
  if (Tracks(node)) parent_[node] = kNoReserveHandle;
}

void ShadowLedger::Charged(ReserveHandle node, uint64_t bytes) {
  if (Tracks(node)) own_charges_[node] += bytes;
}

void ShadowLedger::Uncharged(ReserveHandle node, uint64_t bytes) {
  if (Tracks(node)) own_charges_[node] -= bytes;
}

void ShadowLedger::Check(const ModelApi& api,
                         std::span<const ReserveHandle> live,
                         const char* when) const {
  // Each node's expected usage: its own charges plus those of every node
  // below it, summed by walking each node's path up once.
  uint64_t expected[kMaxNodes] = {};
  for (ReserveHandle node : live) {
    if (!Tracks(node)) continue;
    for (ReserveHandle at = node; at != kNoReserveHandle && Tracks(at);
         at = parent_[at]) {
      expected[at] += own_charges_[node];
    }
  }
  for (ReserveHandle node : live) {
    if (!Tracks(node)) continue;
    const ReserveView view = api.Reserve(node);
    if (!view.live || view.usage != expected[node]) {
      char place[80];
      std::snprintf(place, sizeof(place), "exec.ledger_usage/%s", when);
      ReportBug(BugClass::kAccountingImbalance, place, "executor: reserve #%u has "
                "usage %llu but the ledger of live charges says %llu", node,
                static_cast<unsigned long long>(view.usage),
                static_cast<unsigned long long>(expected[node]));
    }
    if (view.parent != parent_[node]) {
      char place[80];
      std::snprintf(place, sizeof(place), "exec.ledger_parent/%s", when);
      ReportBug(BugClass::kAccountingImbalance, place, "executor: reserve #%u has "
                "parent #%u but was last attached to #%u", node, view.parent,
                parent_[node]);
    }
  }
}

}  // namespace reservoir::exec
