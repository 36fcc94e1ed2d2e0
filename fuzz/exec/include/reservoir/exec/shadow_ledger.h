// The oracle's own record of reserve accounting, kept apart from the
// allocator's counters: every live charge against each node, and the tree
// shape as the executor saw it change. Check() compares it with what the
// implementation reports; any difference is an accounting-imbalance.
#pragma once

#include <cstdint>
#include <span>

#include "reservoir/exec/model_api.h"

namespace reservoir::exec {

class ShadowLedger {
 public:
  // Handles at or above this bound are not tracked (the model has 64).
  static constexpr int kMaxNodes = 64;

  void Clear();
  bool Tracks(ReserveHandle node) const { return node < kMaxNodes; }
  // The parent the executor last attached `node` to (kNoReserveHandle:
  // detached, or not tracked).
  ReserveHandle parent(ReserveHandle node) const {
    return Tracks(node) ? parent_[node] : kNoReserveHandle;
  }

  void Created(ReserveHandle node, ReserveHandle parent);
  void Attached(ReserveHandle node, ReserveHandle parent);
  void Detached(ReserveHandle node);
  void Charged(ReserveHandle node, uint64_t bytes);
  void Uncharged(ReserveHandle node, uint64_t bytes);

  // Reports (and aborts) unless every live node's usage equals the charges
  // recorded against it and below it, and its parent is the expected one.
  // `when` names the operation kind just run ("kfree_reserve") or
  // "teardown"; a report's place carries it (exec.ledger_usage/<when>).
  void Check(const ModelApi& api, std::span<const ReserveHandle> live,
             const char* when) const;

  // The charges recorded against `node` and every tracked node below it
  // in the ledger's tree (0 for an untracked node): what Check() expects
  // of the node's usage when every charged node is live.
  uint64_t SubtreeCharges(ReserveHandle node) const {
    return Tracks(node) ? subtree_[node] : 0;
  }

 private:
  // Adds `delta` (mod 2^64, like the usage counters) to the subtree sums
  // of `from` and of every tracked node above it.
  void AddUp(ReserveHandle from, uint64_t delta);
  // Moves `node` (and its subtree's charges) under `parent`.
  void Reparent(ReserveHandle node, ReserveHandle parent);

  uint64_t own_charges_[kMaxNodes] = {};
  ReserveHandle parent_[kMaxNodes] = {};
  // subtree_[x]: the sum of own_charges_[y] over every tracked y whose
  // path up (y, parent_[y], ... while tracked) passes through x, kept up
  // to date by every change instead of summed again by every Check().
  uint64_t subtree_[kMaxNodes] = {};
  // Bit y: node y has had a charge or uncharge since Clear().
  uint64_t charged_ = 0;
  static_assert(kMaxNodes <= 64, "charged_ has one bit per tracked node");
};

}  // namespace reservoir::exec
