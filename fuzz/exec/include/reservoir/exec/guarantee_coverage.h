// The executor's own decision of which emergency allocations the guarantee
// covers (DOMAIN.md: an entitled user that stays within its declared
// reserve never sees an allocation fail, unless a fault was injected), kept
// from what the executor saw: each reserve's declared demand, the tree
// shape of the shadow ledger, and its own provenance judgements. It is
// compared with the implementation's own decision after every operation,
// and a failed emergency allocation it covers that the implementation let
// pass silently is reported.
#pragma once

#include <cstdint>

#include "reservoir/exec/model_api.h"
#include "reservoir/exec/shadow_ledger.h"

namespace reservoir::exec {

class GuaranteeCoverage {
 public:
  // What a reserve's estimate budgets: its own declared demand.
  enum class Demand : uint8_t { kGroup, kPages, kKmalloc, kCache };
  static constexpr int kMaxCacheHandles = 256;

  void Clear(ReserveHandle root);

  void CacheCreated(CacheHandle cache, uint32_t slot_size);
  uint32_t SlotSize(CacheHandle cache) const;

  // After a successful set: `demand_units` 0 makes the node a group.
  // `pages_before`/`pages_after` are the node's pages around the set and
  // `reserve_pages_in_use` the tagged pages then live. A re-set to another
  // target, or to fewer pages, while reserve pages are in use stands the
  // guarantee down: slabs and pages taken for the old demand may hold
  // reserve pages the new estimate does not budget.
  void DemandSet(ReserveHandle node, Demand kind, CacheHandle cache,
                 uint64_t demand_units, uint64_t pages_before,
                 uint64_t pages_after, uint64_t reserve_pages_in_use);

  // Reserve memory used where no estimate budgeted it (an entitled plain
  // allocation that got reserve memory, an emergency grant against a
  // reserve that does not budget it): the guarantee stands down until the
  // next program.
  void StandDown() { stood_down_ = true; }
  bool stood_down() const { return stood_down_; }

  // Does `node`'s estimate budget an emergency allocation of `kind` (and
  // of `cache`)? The node must declare that very demand and hang under the
  // root (its pages are then part of the strict reserve).
  bool Budgets(const ShadowLedger& ledger, ReserveHandle node, Demand kind,
               CacheHandle cache) const;

 private:
  struct Node {
    Demand kind = Demand::kGroup;
    CacheHandle cache = kNoCache;
    uint32_t cache_instance = 0;
  };
  Node nodes_[ShadowLedger::kMaxNodes];
  // Caches created per handle so far: a handle reused after a destroy is
  // another cache, which an old cache demand does not budget.
  uint32_t instance_[kMaxCacheHandles] = {};
  uint32_t slot_[kMaxCacheHandles] = {};
  ReserveHandle root_ = 0;
  bool stood_down_ = false;
};

}  // namespace reservoir::exec
