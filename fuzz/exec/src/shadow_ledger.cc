// The shadow ledger's bookkeeping and its comparison with the allocator.
#include "reservoir/exec/shadow_ledger.h"

#include <algorithm>
#include <cstdio>

#include "reservoir/report.h"

namespace reservoir::exec {

void ShadowLedger::Clear() {
  std::fill(std::begin(own_charges_), std::end(own_charges_), 0);
  std::fill(std::begin(parent_), std::end(parent_), kNoReserveHandle);
  std::fill(std::begin(subtree_), std::end(subtree_), 0);
  charged_ = 0;
}

void ShadowLedger::AddUp(ReserveHandle from, uint64_t delta) {
  for (ReserveHandle at = from; at != kNoReserveHandle && Tracks(at);
       at = parent_[at]) {
    subtree_[at] += delta;
  }
}

// The nodes whose path up passes through `node` are exactly its subtree;
// their paths above `node` change from the old parent's path to the new
// one's, so subtree_[node] leaves every sum on the first and joins every
// sum on the second, and no other sum changes. (A parent inside node's own
// subtree would be a cycle, on which the walk would not end, as the full
// sum of Check() did not before: the executor attaches only what the
// implementation accepted.)
void ShadowLedger::Reparent(ReserveHandle node, ReserveHandle parent) {
  const uint64_t moved = subtree_[node];
  AddUp(parent_[node], uint64_t{0} - moved);
  parent_[node] = parent;
  AddUp(parent, moved);
}

void ShadowLedger::Created(ReserveHandle node, ReserveHandle parent) {
  if (!Tracks(node)) return;
  // Its own charges go (a handle seen before starts again at zero); the
  // charges of any tracked node still below it move with it.
  AddUp(node, uint64_t{0} - own_charges_[node]);
  own_charges_[node] = 0;
  Reparent(node, parent);
}

void ShadowLedger::Attached(ReserveHandle node, ReserveHandle parent) {
  if (Tracks(node)) Reparent(node, parent);
}

void ShadowLedger::Detached(ReserveHandle node) {
  if (Tracks(node)) Reparent(node, kNoReserveHandle);
}

void ShadowLedger::Charged(ReserveHandle node, uint64_t bytes) {
  if (!Tracks(node)) return;
  own_charges_[node] += bytes;
  charged_ |= uint64_t{1} << node;
  AddUp(node, bytes);
}

void ShadowLedger::Uncharged(ReserveHandle node, uint64_t bytes) {
  if (!Tracks(node)) return;
  own_charges_[node] -= bytes;
  charged_ |= uint64_t{1} << node;
  AddUp(node, uint64_t{0} - bytes);
}

void ShadowLedger::Check(const ModelApi& api,
                         std::span<const ReserveHandle> live,
                         const char* when) const {
  // Each live node's expected usage is the sum of own_charges_ over the
  // live nodes whose path up passes through it (each counted once per
  // appearance in `live`). subtree_ is that sum over every tracked node:
  // the two agree when every node ever charged is live and `live` names
  // no tracked node twice, which is the executor's case (its reserves
  // list holds each node once, and it charges listed nodes and the nodes
  // of grants, which are listed unless the implementation named another).
  // Otherwise the sums are made as before, by walking each live node's
  // path up once.
  uint64_t live_mask = 0;
  bool exact = true;
  for (ReserveHandle node : live) {
    if (!Tracks(node)) continue;
    const uint64_t bit = uint64_t{1} << node;
    if (live_mask & bit) exact = false;
    live_mask |= bit;
  }
  if (charged_ & ~live_mask) exact = false;
  uint64_t walked[kMaxNodes];
  const uint64_t* expected = subtree_;
  if (!exact) {
    std::fill(std::begin(walked), std::end(walked), 0);
    for (ReserveHandle node : live) {
      if (!Tracks(node)) continue;
      for (ReserveHandle at = node; at != kNoReserveHandle && Tracks(at);
           at = parent_[at]) {
        walked[at] += own_charges_[node];
      }
    }
    expected = walked;
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
