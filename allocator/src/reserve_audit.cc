// The reserve tree's invariants: every node's pages, limit and usage equal
// its own share plus its children's, usage <= limit, and the root's pages
// are the page allocator's strict reserve.
#include "reservoir/page_allocator.h"
#include "reservoir/report.h"
#include "reservoir/reserve_tree.h"

#define RESERVOIR_ALWAYS_INLINE __attribute__((always_inline))

namespace reservoir {

// AuditNode() is inlined into its two loops (AuditPath after every reserve
// operation, AuditFull), which saves a call and the saving of registers
// per node; the tests are the same.
RESERVOIR_ALWAYS_INLINE inline void ReserveTree::AuditNode(ReserveId id) const {
  const ReserveNode& node = nodes_[id];
  uint64_t pages = node.own_pages;
  uint64_t limit = node.own_limit;
  uint64_t usage = node.own_usage;
  int children = 0;
  for (ReserveId child = node.first_child; child != kNoReserve;
       child = nodes_[child].next_sibling) {
    const ReserveNode& c = nodes_[child];
    if (!c.live || c.parent != id || ++children > kMaxReserves) {
      ReportBug(BugClass::kAccountingImbalance, "reserve.audit_child_link", "reserve '%s': child link to "
                "#%u is broken", node.name, child);
    }
    pages += c.pages;
    limit += c.limit;
    usage += c.usage;
  }
  if (node.pages != pages || node.limit != limit || node.usage != usage) {
    // The place names the first sum that disagrees, so that a bug losing
    // pages and one losing usage are told apart by triage.
    const char* place = node.pages != pages   ? "reserve.audit_subtree_sums/pages"
                        : node.limit != limit ? "reserve.audit_subtree_sums/limit"
                                              : "reserve.audit_subtree_sums/usage";
    ReportBug(BugClass::kAccountingImbalance, place, "reserve '%s': pages %llu limit "
              "%llu usage %llu, but its own share plus its children's is "
              "pages %llu limit %llu usage %llu", node.name,
              static_cast<unsigned long long>(node.pages),
              static_cast<unsigned long long>(node.limit),
              static_cast<unsigned long long>(node.usage),
              static_cast<unsigned long long>(pages),
              static_cast<unsigned long long>(limit),
              static_cast<unsigned long long>(usage));
  }
  if (node.own_usage > node.own_limit) {
    ReportBug(BugClass::kAccountingImbalance, "reserve.audit_own_usage_above_limit", "reserve '%s': own usage %llu "
              "above its own limit %llu", node.name,
              static_cast<unsigned long long>(node.own_usage),
              static_cast<unsigned long long>(node.own_limit));
  }
  if (node.usage > node.limit) {
    ReportBug(BugClass::kAccountingImbalance, "reserve.audit_usage_above_limit", "reserve '%s': usage %llu above "
              "its limit %llu", node.name,
              static_cast<unsigned long long>(node.usage),
              static_cast<unsigned long long>(node.limit));
  }
}

void ReserveTree::AuditPath(ReserveId id) const {
  if (!audit_->cheap()) return;
  for (ReserveId at = id; at != kNoReserve; at = nodes_[at].parent) {
    AuditNode(at);
  }
  if (nodes_[kRootReserve].pages != pages_->strict_reserve()) {
    ReportBug(BugClass::kAccountingImbalance, "reserve.audit_path_root_vs_strict_reserve", "the root reserve holds %llu "
              "pages but the strict reserve is %llu",
              static_cast<unsigned long long>(nodes_[kRootReserve].pages),
              static_cast<unsigned long long>(pages_->strict_reserve()));
  }
}

void ReserveTree::AuditFull() const {
  // Slots from slots_used_ on have not been live since the reset
  // (Create() takes the lowest free slot): the loop stops there.
  for (ReserveId id = 0; id < slots_used_; ++id) {
    if (!nodes_[id].live) continue;
    const ReserveId parent = nodes_[id].parent;
    if (parent != kNoReserve) {
      bool found = false;
      for (ReserveId c = nodes_[parent].first_child; c != kNoReserve;
           c = nodes_[c].next_sibling) {
        found |= c == id;
      }
      if (!found) {
        ReportBug(BugClass::kAccountingImbalance, "reserve.audit_parent_link", "reserve '%s' names '%s' as "
                  "parent but is not among its children", nodes_[id].name,
                  nodes_[parent].name);
      }
    }
    AuditNode(id);
  }
  if (nodes_[kRootReserve].pages != pages_->strict_reserve()) {
    ReportBug(BugClass::kAccountingImbalance, "reserve.audit_full_root_vs_strict_reserve", "the root reserve holds %llu "
              "pages but the strict reserve is %llu",
              static_cast<unsigned long long>(nodes_[kRootReserve].pages),
              static_cast<unsigned long long>(pages_->strict_reserve()));
  }
}

}  // namespace reservoir
