// The shadow ledger keeps each node's expected usage up to date as charges
// and attachments change, instead of summing the whole tree at every check:
// its sums must equal the full sum after every change, and a usage or a
// parent that disagrees with the model must still be reported.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "reservoir/exec/reservoir_model.h"
#include "reservoir/exec/shadow_ledger.h"

namespace reservoir::exec {
namespace {

constexpr ReserveHandle kUntracked = ShadowLedger::kMaxNodes + 5;

// The sum the ledger once made at every check: each tracked node's own
// charges added to every node on its path up.
std::vector<uint64_t> FullSums(const std::vector<uint64_t>& own,
                               const std::vector<ReserveHandle>& parent) {
  std::vector<uint64_t> sums(own.size(), 0);
  for (size_t node = 0; node < own.size(); ++node) {
    for (ReserveHandle at = static_cast<ReserveHandle>(node);
         at != kNoReserveHandle && at < own.size(); at = parent[at]) {
      sums[at] += own[node];
    }
  }
  return sums;
}

bool Below(const std::vector<ReserveHandle>& parent, ReserveHandle node,
           ReserveHandle ancestor) {
  for (ReserveHandle at = node; at != kNoReserveHandle && at < parent.size();
       at = parent[at]) {
    if (at == ancestor) return true;
  }
  return false;
}

TEST(ShadowLedgerTest, SubtreeSumsEqualTheFullSumAfterEveryChange) {
  constexpr int kNodes = 12;
  ShadowLedger ledger;
  ledger.Clear();
  std::vector<uint64_t> own(kNodes, 0);
  std::vector<ReserveHandle> parent(kNodes, kNoReserveHandle);
  uint64_t state = 12345;
  const auto next = [&state](uint64_t bound) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % bound;
  };
  for (int step = 0; step < 4000; ++step) {
    const auto node = static_cast<ReserveHandle>(next(kNodes));
    // A parent that keeps the tree acyclic (what the model accepts), at
    // times one the ledger does not track or none.
    ReserveHandle up = static_cast<ReserveHandle>(next(kNodes + 2));
    if (up == kNodes) up = kNoReserveHandle;
    if (up == kNodes + 1) up = kUntracked;
    if (up != kNoReserveHandle && up < kNodes && Below(parent, up, node)) {
      up = kNoReserveHandle;
    }
    const uint64_t bytes = next(1000) + 1;
    switch (next(6)) {
      case 0:
        ledger.Created(node, up);
        own[node] = 0;
        parent[node] = up;
        break;
      case 1:
        ledger.Attached(node, up);
        parent[node] = up;
        break;
      case 2:
        ledger.Detached(node);
        parent[node] = kNoReserveHandle;
        break;
      case 3:
      case 4:
        ledger.Charged(node, bytes);
        own[node] += bytes;
        break;
      default:
        ledger.Uncharged(node, bytes);  // may wrap, like the counters
        own[node] -= bytes;
        break;
    }
    // Untracked handles change nothing.
    ledger.Charged(kUntracked, bytes);
    ledger.Attached(kUntracked, node);
    const std::vector<uint64_t> sums = FullSums(own, parent);
    for (int n = 0; n < kNodes; ++n) {
      ASSERT_EQ(ledger.SubtreeCharges(static_cast<ReserveHandle>(n)), sums[n])
          << "node " << n << " after step " << step;
      ASSERT_EQ(ledger.parent(static_cast<ReserveHandle>(n)), parent[n]);
    }
  }
  EXPECT_EQ(ledger.SubtreeCharges(kUntracked), 0u);
}

// A small tree on the model, charged through the model and recorded alike.
struct Tree {
  ReservoirModel model{ModelConfig{}, 0};
  ShadowLedger ledger;
  std::vector<ReserveHandle> live;
  ReserveHandle a = kNoReserveHandle;
  ReserveHandle b = kNoReserveHandle;

  Tree() {
    ledger.Clear();
    live.push_back(model.ReserveRoot());
    a = model.ReserveCreate("a", model.ReserveRoot());
    b = model.ReserveCreate("b", a);
    live.push_back(a);
    live.push_back(b);
    ledger.Created(a, model.ReserveRoot());
    ledger.Created(b, a);
    // Room to charge: a kmalloc demand on each (its limit).
    EXPECT_EQ(model.ReserveKmallocSet(a, 4096), 0);
    EXPECT_EQ(model.ReserveKmallocSet(b, 4096), 0);
  }
  void Charge(ReserveHandle node, uint64_t bytes) {
    ASSERT_EQ(model.ReserveCharge(node, bytes), 0);
    ledger.Charged(node, bytes);
  }
  void Check() const { ledger.Check(model, live, "test_op"); }
};

TEST(ShadowLedgerTest, AgreesWithTheModelOverChargesAndMoves) {
  Tree tree;
  tree.Charge(tree.b, 300);
  tree.Charge(tree.a, 40);
  tree.Check();
  EXPECT_EQ(tree.ledger.SubtreeCharges(tree.model.ReserveRoot()), 340u);
  EXPECT_EQ(tree.ledger.SubtreeCharges(tree.a), 340u);
  // b moves to the root: its charges leave a's sum.
  ASSERT_EQ(tree.model.ReserveDisconnect(tree.b), 0);
  tree.ledger.Detached(tree.b);
  tree.Check();
  EXPECT_EQ(tree.ledger.SubtreeCharges(tree.model.ReserveRoot()), 40u);
  ASSERT_EQ(tree.model.ReserveConnect(tree.b, tree.model.ReserveRoot()), 0);
  tree.ledger.Attached(tree.b, tree.model.ReserveRoot());
  tree.Check();
  EXPECT_EQ(tree.ledger.SubtreeCharges(tree.model.ReserveRoot()), 340u);
  EXPECT_EQ(tree.ledger.SubtreeCharges(tree.a), 40u);
  tree.model.ReserveUncharge(tree.b, 300);
  tree.ledger.Uncharged(tree.b, 300);
  tree.Check();
}

TEST(ShadowLedgerTest, ReportsAUsageTheLedgerDoesNotHave) {
  Tree tree;
  tree.Charge(tree.b, 300);
  tree.Check();
  // The model charges 8 bytes more than the ledger recorded (a wrong
  // uncharge, seen from the other side).
  ASSERT_EQ(tree.model.ReserveCharge(tree.b, 8), 0);
  EXPECT_DEATH(tree.Check(), "exec.ledger_usage/test_op");
}

TEST(ShadowLedgerTest, ReportsAChargeTheModelDoesNotHave) {
  Tree tree;
  tree.Charge(tree.a, 64);
  tree.ledger.Charged(tree.b, 1);
  EXPECT_DEATH(tree.Check(), "exec.ledger_usage/test_op");
}

TEST(ShadowLedgerTest, ReportsAParentTheLedgerDoesNotHave) {
  Tree tree;
  tree.Charge(tree.b, 16);
  ASSERT_EQ(tree.model.ReserveDisconnect(tree.b), 0);
  // The ledger still has b under a: a's expected usage is then wrong too,
  // and the usage is what is checked first.
  EXPECT_DEATH(tree.Check(), "exec.ledger_(usage|parent)/test_op");
}

// Charges recorded against a node the check is not given (not live) count
// for nothing, as when the sums were made at every check.
TEST(ShadowLedgerTest, ChargesOfNodesNotLiveAreNotCounted) {
  Tree tree;
  tree.Charge(tree.b, 100);
  tree.ledger.Created(9, tree.a);  // a node the executor never listed
  tree.ledger.Charged(9, 50);
  tree.Check();
  // Listed twice, a node's charges count twice, as before.
  tree.live.push_back(tree.b);
  EXPECT_DEATH(tree.Check(), "exec.ledger_usage/test_op");
}

}  // namespace
}  // namespace reservoir::exec
