// Layer 3: the reserve tree (Zijlstra's mem_reserve). Named nodes under one
// root; each node has pages (its own plus its children's), a limit and a
// usage. The root's pages are the page allocator's strict reserve.
//
// Units: limit and usage are bytes for every kind of node (a page demand is
// pages * 4096, a cache demand is objects * slot size), so charges sum up to
// the root. A charge c against a node succeeds when its own charges stay
// within its own limit (own_usage + c <= own_limit; the seed used `<`, which
// makes the last byte of a reserve unusable) and every level's total stays
// within its total limit. A group node holds nothing itself, so it cannot
// be charged directly.
#pragma once

#include <cstdint>

#include "reservoir/config.h"
#include "reservoir/fault_gate.h"

namespace reservoir {

class PageAllocator;
class SlabAllocator;
struct KmemCache;

using ReserveId = uint16_t;
inline constexpr ReserveId kNoReserve = UINT16_MAX;
inline constexpr ReserveId kRootReserve = 0;
inline constexpr int kMaxReserves = 64;
inline constexpr int kReserveNameSize = 32;

enum class ReserveKind : uint8_t {
  kGroup,    // holds nothing itself, only children
  kPages,    // pages_set(P)
  kKmalloc,  // kmalloc_set(N bytes)
  kCache,    // kmem_cache_set(cache, K objects)
};
const char* ReserveKindName(ReserveKind kind);

// Expected outcomes of reserve operations; never a report.
enum class ReserveStatus : uint8_t {
  kOk,
  kNoMemory,     // the page allocator cannot hold the new strict reserve
  kOverLimit,    // a charge or a shrink would break usage <= limit
  kInvalid,      // bad node, bad argument, would create a cycle, ...
  kInjected,     // a fault was injected at reserve_set / reserve_charge
  kNoSlot,       // no free node slot
};
const char* ReserveStatusName(ReserveStatus status);

struct ReserveNode {
  char name[kReserveNameSize] = {};
  bool live = false;
  ReserveKind kind = ReserveKind::kGroup;
  ReserveId parent = kNoReserve;
  ReserveId first_child = kNoReserve;
  ReserveId next_sibling = kNoReserve;
  uint64_t demand = 0;      // what was asked: pages, bytes or objects
  uint16_t cache_id = 0;    // kCache only
  uint32_t cache_generation = 0;  // kCache only: which cache of that id
  uint64_t own_pages = 0;   // estimator(demand)
  uint64_t pages = 0;       // own_pages + children's pages
  uint64_t own_limit = 0;   // bytes this node itself may be charged
  uint64_t limit = 0;       // own_limit + children's limits
  uint64_t own_usage = 0;   // charges made against this node itself
  uint64_t usage = 0;       // own_usage + children's usage
};

struct ChargeResult {
  ReserveStatus status = ReserveStatus::kOk;
  ReserveId refused_by = kNoReserve;  // the node whose limit refused
};

class ReserveTree {
 public:
  ReserveTree(const ModelConfig& config, PageAllocator* pages,
              SlabAllocator* slab, FaultGate* gate);

  // A new, empty node under `parent` (kNoReserve = detached). The name is
  // truncated to kReserveNameSize - 1.
  ReserveId Create(const char* name, ReserveId parent);
  // Destroys a detached or attached node with no children, no usage and no
  // pages.
  ReserveStatus Destroy(ReserveId id);

  // mem_reserve_{pages,kmalloc,kmem_cache}_set(): replace the node's own
  // demand. All or nothing: on any failure the tree and the strict reserve
  // are as before.
  ReserveStatus PagesSet(ReserveId id, uint64_t pages);
  ReserveStatus KmallocSet(ReserveId id, uint64_t bytes);
  ReserveStatus CacheSet(ReserveId id, const KmemCache* cache,
                         uint64_t objects);

  // Charge `bytes` against `id` and every ancestor; all or nothing. On a
  // refusal, `refused_by` names the node whose limit refused.
  // `in_softirq`: the charging request runs in softirq context (for the
  // fault site's task filter).
  ChargeResult TryCharge(ReserveId id, uint64_t bytes, const char* call_site,
                         bool in_softirq = false);
  // Undo a charge. Uncharging more than is charged is an
  // accounting-imbalance report.
  void Uncharge(ReserveId id, uint64_t bytes);

  // Move a detached subtree under `parent`, or detach one; pages, limit
  // and usage move with it. Connecting may fail (kNoMemory) when the strict
  // reserve cannot grow; then nothing changes.
  ReserveStatus Connect(ReserveId child, ReserveId parent);
  ReserveStatus Disconnect(ReserveId child);

  const ReserveNode& node(ReserveId id) const { return nodes_[id]; }
  bool IsLive(ReserveId id) const {
    return id < kMaxReserves && nodes_[id].live;
  }
  ReserveId root() const { return kRootReserve; }
  // The topmost ancestor of `id`: the root when the node's pages count
  // towards the strict reserve, else the top of a detached subtree.
  ReserveId TopOf(ReserveId id) const;
  // True when `ancestor` is `id` or above it.
  bool IsAncestor(ReserveId ancestor, ReserveId id) const;

  void Reset();
  // Reset() under a new config: estimator, audit level and CPU count.
  void Reconfigure(const ModelConfig& config);
  // Reads the audit level from `schedule` (the model's) from now on.
  void UseAuditSchedule(const AuditSchedule* schedule) { audit_ = schedule; }
  void set_audit_level(AuditLevel level) { own_audit_.level = level; }
  // Cheap: the path from `id` to its top. Full: every node.
  void AuditPath(ReserveId id) const;
  void AuditFull() const;
  bool AllUsageZero() const;
  // Set (until reset) when a node's demand was re-set to another target
  // (kind or cache) or to fewer pages while reserve pages were in use: the
  // slabs and pages taken under the old demand may keep reserve pages the
  // new estimate does not budget, so the guarantee no longer applies.
  bool demand_changed_in_use() const { return demand_changed_in_use_; }

  void CorruptUsageForTesting(ReserveId id, int64_t delta);

 private:
  ReserveStatus SetOwnDemand(ReserveId id, ReserveKind kind, uint64_t demand,
                             uint16_t cache_id, uint64_t own_pages,
                             uint64_t own_limit, uint64_t set_size);
  void AddAlongPath(ReserveId from, int64_t pages, int64_t limit,
                    int64_t usage);
  ReserveStatus ApplyStrictReserveDelta(ReserveId top, int64_t pages_delta);
  void AuditNode(ReserveId id) const;
  // Walks over the tree's own state, in reserve_walks.cc (no comparison
  // tracing): IsLive() out of line, the lowest free slot for Create()
  // (kNoReserve when none; counted in slots_used_), each ancestor's usage
  // less `bytes` (reported below zero), and `child` taken off `parent`'s
  // child list.
  bool Live(ReserveId id) const;
  ReserveId TakeFreeSlot();
  void UnchargeAlongPath(ReserveId id, uint64_t bytes);
  void UnlinkChild(ReserveId parent, ReserveId child);

  PageAllocator* pages_;
  SlabAllocator* slab_;
  FaultGate* gate_;
  EstimatorKind estimator_;
  AuditSchedule own_audit_;
  const AuditSchedule* audit_ = &own_audit_;
  int nr_cpus_;
  int max_order_;
  ReserveNode nodes_[kMaxReserves];
  // Slots [slots_used_, kMaxReserves) have not been live since the last
  // reset (Create() takes the lowest free slot): AuditFull() stops there.
  ReserveId slots_used_ = kRootReserve + 1;
  bool demand_changed_in_use_ = false;
};

}  // namespace reservoir
