// The reserve tree's walks over its own state: liveness of a node, the
// path to the top, the ancestor test, the sums carried along a path, the
// free-slot search, the child-list unlink, and the wrappers' budget test.
// Every comparison here is between model state only (node ids the model
// handed out, live flags, parent and sibling links, a node's kind and
// cache against the wrapper's, usage against an earlier charge), never
// between a program argument and a limit: libFuzzer's comparison tracing
// cannot turn them into useful mutations, and it called back on every
// step of every walk. So this file is built without comparison tracing
// (allocator/CMakeLists.txt, RESERVOIR_ALLOCATOR_TRACE_CMP keeps it); its
// edge coverage stays. What compares program arguments with limits (the
// charge against the own limit, a new limit against the usage along the
// path, the sizes of the *_set calls) stays in reserve_tree.cc with its
// tracing.
#include "reservoir/model.h"
#include "reservoir/report.h"
#include "reservoir/reserve_tree.h"

namespace reservoir {

bool ReserveTree::Live(ReserveId id) const { return IsLive(id); }

ReserveId ReserveTree::TopOf(ReserveId id) const {
  while (nodes_[id].parent != kNoReserve) id = nodes_[id].parent;
  return id;
}

bool ReserveTree::IsAncestor(ReserveId ancestor, ReserveId id) const {
  for (ReserveId at = id; at != kNoReserve; at = nodes_[at].parent) {
    if (at == ancestor) return true;
  }
  return false;
}

ReserveId ReserveTree::TakeFreeSlot() {
  for (ReserveId id = 1; id < kMaxReserves; ++id) {
    if (nodes_[id].live) continue;
    if (id >= slots_used_) slots_used_ = static_cast<ReserveId>(id + 1);
    return id;
  }
  return kNoReserve;
}

void ReserveTree::AddAlongPath(ReserveId from, int64_t pages, int64_t limit,
                               int64_t usage) {
  for (ReserveId at = from; at != kNoReserve; at = nodes_[at].parent) {
    ReserveNode& node = nodes_[at];
    node.pages += pages;
    node.limit += limit;
    node.usage += usage;
  }
}

void ReserveTree::UnchargeAlongPath(ReserveId id, uint64_t bytes) {
  const ReserveNode& node = nodes_[id];
  for (ReserveId at = id; at != kNoReserve; at = nodes_[at].parent) {
    if (nodes_[at].usage < bytes) {
      ReportBug(BugClass::kAccountingImbalance, "reserve.uncharge_ancestor_below_zero", "uncharge of %llu bytes "
                "from '%s' drives ancestor '%s' below zero (usage %llu)",
                static_cast<unsigned long long>(bytes), node.name,
                nodes_[at].name,
                static_cast<unsigned long long>(nodes_[at].usage));
    }
    nodes_[at].usage -= bytes;
  }
}

void ReserveTree::UnlinkChild(ReserveId parent, ReserveId child) {
  ReserveId* link = &nodes_[parent].first_child;
  while (*link != child) link = &nodes_[*link].next_sibling;
  *link = nodes_[child].next_sibling;
}

bool ReserveTree::AllUsageZero() const {
  for (const ReserveNode& node : nodes_) {
    if (node.live && node.usage != 0) return false;
  }
  return true;
}

// Did `node`'s estimate budget this kind of allocation? Only a reserve of
// the wrapper's kind (for a cache reserve: of that very cache, not a later
// one reusing its id) that is attached under the root, so that its pages
// are part of the strict reserve.
bool Model::Budgets(ReserveId node, ReserveKind kind,
                    const KmemCache* cache) const {
  if (!reserves_.IsLive(node)) return false;
  const ReserveNode& n = reserves_.node(node);
  if (n.kind != kind || reserves_.TopOf(node) != kRootReserve) return false;
  return kind != ReserveKind::kCache ||
         (n.cache_id == cache->id && n.cache_generation == cache->generation);
}

}  // namespace reservoir
