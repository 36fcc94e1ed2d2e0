// The reserve tree: sizing (set), charging, and moving subtrees.
#include "reservoir/reserve_tree.h"

#include <cstdio>
#include <cstring>

#include "reservoir/estimator.h"
#include "reservoir/page_allocator.h"
#include "reservoir/plant.h"
#include "reservoir/report.h"
#include "reservoir/slab_allocator.h"

namespace reservoir {

const char* ReserveKindName(ReserveKind kind) {
  switch (kind) {
    case ReserveKind::kGroup: return "group";
    case ReserveKind::kPages: return "pages";
    case ReserveKind::kKmalloc: return "kmalloc";
    case ReserveKind::kCache: return "cache";
  }
  return "unknown";
}

const char* ReserveStatusName(ReserveStatus status) {
  switch (status) {
    case ReserveStatus::kOk: return "ok";
    case ReserveStatus::kNoMemory: return "no-memory";
    case ReserveStatus::kOverLimit: return "over-limit";
    case ReserveStatus::kInvalid: return "invalid";
    case ReserveStatus::kInjected: return "injected";
    case ReserveStatus::kNoSlot: return "no-slot";
  }
  return "unknown";
}

ReserveTree::ReserveTree(const ModelConfig& config, PageAllocator* pages,
                         SlabAllocator* slab, FaultGate* gate)
    : pages_(pages),
      slab_(slab),
      gate_(gate),
      estimator_(config.estimator),
      nr_cpus_(config.nr_cpus),
      max_order_(config.max_order) {
  own_audit_.level = config.audit;
  Reset();
}

void ReserveTree::Reset() {
  for (ReserveNode& node : nodes_) node = ReserveNode{};
  demand_changed_in_use_ = false;
  slots_used_ = kRootReserve + 1;
  ReserveNode& root = nodes_[kRootReserve];
  std::strncpy(root.name, "root", kReserveNameSize - 1);
  root.live = true;
}

void ReserveTree::Reconfigure(const ModelConfig& config) {
  estimator_ = config.estimator;
  own_audit_.level = config.audit;
  nr_cpus_ = config.nr_cpus;
  max_order_ = config.max_order;
  Reset();
}

// TopOf, IsAncestor, AddAlongPath, AllUsageZero and the other walks over
// the tree's own state: reserve_walks.cc (built without comparison
// tracing). Live() is IsLive() from there, for the same reason.

ReserveId ReserveTree::Create(const char* name, ReserveId parent) {
  if (parent != kNoReserve && !Live(parent)) return kNoReserve;
  const ReserveId id = TakeFreeSlot();  // the lowest slot not live
  if (id == kNoReserve) return kNoReserve;
  ReserveNode& node = nodes_[id];
  node = ReserveNode{};
  std::strncpy(node.name, name, kReserveNameSize - 1);
  node.live = true;
  if (parent != kNoReserve) {
    node.parent = parent;
    node.next_sibling = nodes_[parent].first_child;
    nodes_[parent].first_child = id;
  }
  return id;
}

ReserveStatus ReserveTree::Destroy(ReserveId id) {
  if (!Live(id) || id == kRootReserve) return ReserveStatus::kInvalid;
  const ReserveNode& node = nodes_[id];
  if (node.first_child != kNoReserve || node.usage != 0 || node.pages != 0 ||
      node.limit != 0) {
    return ReserveStatus::kInvalid;
  }
  if (node.parent != kNoReserve) {
    const ReserveStatus status = Disconnect(id);
    if (status != ReserveStatus::kOk) return status;
  }
  nodes_[id] = ReserveNode{};
  return ReserveStatus::kOk;
}

ReserveStatus ReserveTree::ApplyStrictReserveDelta(ReserveId top,
                                                   int64_t pages_delta) {
  if (top != kRootReserve || pages_delta == 0) return ReserveStatus::kOk;
  const uint64_t wanted = nodes_[kRootReserve].pages + pages_delta;
  if (!pages_->SetStrictReserve(wanted)) return ReserveStatus::kNoMemory;
  return ReserveStatus::kOk;
}

ReserveStatus ReserveTree::SetOwnDemand(ReserveId id, ReserveKind kind,
                                        uint64_t demand, uint16_t cache_id,
                                        uint64_t own_pages, uint64_t own_limit,
                                        uint64_t set_size) {
  if (!Live(id)) return ReserveStatus::kInvalid;
  ReserveNode& node = nodes_[id];
  const int64_t pages_delta =
      static_cast<int64_t>(own_pages) - static_cast<int64_t>(node.own_pages);
  const int64_t limit_delta =
      static_cast<int64_t>(own_limit) - static_cast<int64_t>(node.own_limit);
  // Only growth can fail, as in the kernel: releasing a reserve always works.
  if ((pages_delta > 0 || limit_delta > 0) && gate_->armed()) {
    FaultCall call;
    call.site = FaultSite::kReserveSet;
    call.size = set_size;
    call.reserve = node.name;
    call.call_site = "mem_reserve_set";
    if (gate_->ShouldFail(call)) return ReserveStatus::kInjected;
  }
  // Shrinking may not leave anyone charged above its limit.
  if (node.own_usage > own_limit) return ReserveStatus::kOverLimit;
  for (ReserveId at = id; at != kNoReserve; at = nodes_[at].parent) {
    const ReserveNode& a = nodes_[at];
    if (static_cast<int64_t>(a.limit) + limit_delta <
        static_cast<int64_t>(a.usage)) {
      return ReserveStatus::kOverLimit;
    }
  }
  // The allocator first: if it cannot hold the new reserve, nothing moved.
  const ReserveStatus status = ApplyStrictReserveDelta(TopOf(id), pages_delta);
  if (status != ReserveStatus::kOk) return status;
  const ReserveKind new_kind = demand == 0 ? ReserveKind::kGroup : kind;
  const bool retargeted =
      node.kind != ReserveKind::kGroup &&
      (new_kind != node.kind ||
       (kind == ReserveKind::kCache && cache_id != node.cache_id));
  if ((retargeted || pages_delta < 0) && pages_->pfmemalloc_pages() > 0) {
    demand_changed_in_use_ = true;
  }
  node.kind = new_kind;
  node.demand = demand;
  node.cache_id = cache_id;
  node.cache_generation = 0;
  node.own_pages = own_pages;
  node.own_limit = own_limit;
  AddAlongPath(id, pages_delta, limit_delta, 0);
  AuditPath(id);
  return ReserveStatus::kOk;
}

ReserveStatus ReserveTree::PagesSet(ReserveId id, uint64_t pages) {
  if (pages > pages_->nr_pages()) return ReserveStatus::kNoMemory;
  return SetOwnDemand(id, ReserveKind::kPages, pages, 0, pages,
                      pages * kPageSize, pages * kPageSize);
}

ReserveStatus ReserveTree::KmallocSet(ReserveId id, uint64_t bytes) {
  if (bytes > (uint64_t{pages_->nr_pages()} << kPageShift))
    return ReserveStatus::kNoMemory;
  const uint64_t pages =
      EstimateKmallocPages(estimator_, bytes, nr_cpus_, max_order_);
  return SetOwnDemand(id, ReserveKind::kKmalloc, bytes, 0, pages, bytes,
                      bytes);
}

ReserveStatus ReserveTree::CacheSet(ReserveId id, const KmemCache* cache,
                                    uint64_t objects) {
  if (cache == nullptr || !cache->live) return ReserveStatus::kInvalid;
  const uint64_t bytes = objects * cache->size;
  if (bytes > (uint64_t{pages_->nr_pages()} << kPageShift))
    return ReserveStatus::kNoMemory;
  const SlabGeometry geometry =
      CalculateSlabGeometry(cache->size, nr_cpus_, max_order_);
  const uint64_t pages =
      EstimateCachePages(estimator_, geometry, objects, nr_cpus_);
  const ReserveStatus status = SetOwnDemand(id, ReserveKind::kCache, objects,
                                            cache->id, pages, bytes, bytes);
  if (status == ReserveStatus::kOk) nodes_[id].cache_generation = cache->generation;
  return status;
}

// page_counter_try_charge(), under this tree's limit rules. A node's limit
// is its own limit plus its children's, and no node is ever charged above
// its own limit, so every ancestor's room (limit - usage) is the sum of the
// own rooms below it, at least the charged node's own: when the own limit
// admits a charge, every level does (docs/MODEL.md, "The reserve tree").
// The own limit is therefore the only test, and there is no partial charge
// to roll back. A tree whose numbers were wrong is the audit's to report
// (AuditPath below: usage above limit, subtree sums).
ChargeResult ReserveTree::TryCharge(ReserveId id, uint64_t bytes,
                                    const char* call_site, bool in_softirq) {
  ChargeResult result;
  if (!Live(id)) {
    result.status = ReserveStatus::kInvalid;
    return result;
  }
  if (gate_->armed()) {
    FaultCall call;
    call.site = FaultSite::kReserveCharge;
    call.size = bytes;
    call.reserve = nodes_[id].name;
    call.call_site = call_site;
    call.in_softirq = in_softirq;
    if (gate_->ShouldFail(call)) {
      result.status = ReserveStatus::kInjected;
      result.refused_by = id;
      return result;
    }
  }
  // A group holds nothing itself (own limit 0): it cannot be charged.
  if (nodes_[id].own_usage + bytes > nodes_[id].own_limit) {
    result.status = ReserveStatus::kOverLimit;
    result.refused_by = id;
    return result;
  }
  for (ReserveId at = id; at != kNoReserve; at = nodes_[at].parent) {
    nodes_[at].usage += bytes;
  }
  nodes_[id].own_usage += bytes;
  AuditPath(id);
  return result;
}

void ReserveTree::Uncharge(ReserveId id, uint64_t bytes) {
  if (!Live(id)) {
    ReportBug(BugClass::kAccountingImbalance, "reserve.uncharge_missing_node", "uncharge of %llu bytes from "
              "reserve #%u which does not exist",
              static_cast<unsigned long long>(bytes), id);
  }
  ReserveNode& node = nodes_[id];
  if (node.own_usage < bytes) {
    ReportBug(BugClass::kAccountingImbalance, "reserve.uncharge_below_own_usage", "uncharge of %llu bytes from "
              "reserve '%s' which has only %llu bytes charged",
              static_cast<unsigned long long>(bytes), node.name,
              static_cast<unsigned long long>(node.own_usage));
  }
  node.own_usage -= bytes;
  // Each ancestor's usage against the same bytes (model state: the own
  // usage was tested above), in reserve_walks.cc.
  UnchargeAlongPath(id, bytes);
  AuditPath(id);
}

ReserveStatus ReserveTree::Connect(ReserveId child, ReserveId parent) {
  if (!Live(child) || !Live(parent) || child == kRootReserve)
    return ReserveStatus::kInvalid;
  ReserveNode& node = nodes_[child];
  if (node.parent != kNoReserve) return ReserveStatus::kInvalid;
  if (IsAncestor(child, parent)) return ReserveStatus::kInvalid;  // a cycle
  const ReserveStatus status =
      ApplyStrictReserveDelta(TopOf(parent), static_cast<int64_t>(node.pages));
  if (status != ReserveStatus::kOk) return status;
  node.parent = parent;
  node.next_sibling = nodes_[parent].first_child;
  nodes_[parent].first_child = child;
  uint64_t moved_usage = node.usage;
  // PLANT(connect_drops_usage): the moved subtree's usage is not carried
  // to its new ancestors.
  if (RESERVOIR_PLANTED(connect_drops_usage)) moved_usage = 0;
  uint64_t moved_pages = node.pages;
  // PLANT(connect_drops_pages): the moved subtree's pages are not carried
  // to its new ancestors (the strict reserve did grow by them above).
  if (RESERVOIR_PLANTED(connect_drops_pages)) moved_pages = 0;
  AddAlongPath(parent, moved_pages, node.limit, moved_usage);
  AuditPath(child);
  return ReserveStatus::kOk;
}

ReserveStatus ReserveTree::Disconnect(ReserveId child) {
  if (!Live(child) || child == kRootReserve) return ReserveStatus::kInvalid;
  ReserveNode& node = nodes_[child];
  const ReserveId parent = node.parent;
  if (parent == kNoReserve) return ReserveStatus::kInvalid;
  const ReserveId top = TopOf(parent);
  AddAlongPath(parent, -static_cast<int64_t>(node.pages),
               -static_cast<int64_t>(node.limit),
               -static_cast<int64_t>(node.usage));
  if (top == kRootReserve && node.pages != 0) {
    // Shrinking the strict reserve always succeeds.
    pages_->SetStrictReserve(nodes_[kRootReserve].pages);
  }
  UnlinkChild(parent, child);
  node.parent = kNoReserve;
  node.next_sibling = kNoReserve;
  AuditPath(parent);
  return ReserveStatus::kOk;
}

void ReserveTree::CorruptUsageForTesting(ReserveId id, int64_t delta) {
  nodes_[id].usage += delta;
}

}  // namespace reservoir
