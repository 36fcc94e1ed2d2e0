// Layer 3: the reserve tree and the reserve wrappers of model.h.
//
// The default zone (4096 pages, min_free_kbytes derived as 512 kB) has
// min = 128 pages, so the strict reserve can grow to 4096 - 128 = 3968
// pages while nothing is allocated.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "reservoir/estimator.h"
#include "reservoir/model.h"
#include "reservoir/report.h"
#include "test_support.h"

namespace reservoir {
namespace {

using test::Exhaust;
using test::KernelCtx;
using test::MemallocCtx;
using test::SlabHeadOf;

ModelConfig TreeConfig(AuditLevel audit = AuditLevel::kFull) {
  ModelConfig config;
  config.normal_pages = 4096;
  config.nr_cpus = 2;
  config.audit = audit;
  return config;
}

bool SameNode(const ReserveNode& a, const ReserveNode& b) {
  return std::strcmp(a.name, b.name) == 0 && a.live == b.live && a.kind == b.kind &&
         a.parent == b.parent && a.first_child == b.first_child &&
         a.next_sibling == b.next_sibling && a.demand == b.demand &&
         a.cache_id == b.cache_id && a.own_pages == b.own_pages &&
         a.pages == b.pages && a.own_limit == b.own_limit && a.limit == b.limit &&
         a.own_usage == b.own_usage && a.usage == b.usage;
}

class ReserveTreeTest : public ::testing::Test {
 protected:
  explicit ReserveTreeTest(AuditLevel audit = AuditLevel::kFull)
      : model_(TreeConfig(audit)) {}
  ReserveTree& tree() { return model_.reserves(); }
  const ReserveNode& node(ReserveId id) { return tree().node(id); }
  uint64_t strict() { return model_.pages().strict_reserve(); }
  std::vector<ReserveNode> Snapshot() {
    std::vector<ReserveNode> nodes;
    for (ReserveId id = 0; id < kMaxReserves; ++id) nodes.push_back(tree().node(id));
    return nodes;
  }
  void ExpectUnchanged(const std::vector<ReserveNode>& before, uint64_t strict_before) {
    const std::vector<ReserveNode> after = Snapshot();
    for (ReserveId id = 0; id < kMaxReserves; ++id) {
      EXPECT_TRUE(SameNode(before[id], after[id])) << "node " << id << " changed";
    }
    EXPECT_EQ(strict(), strict_before);
    EXPECT_EQ(model_.pages().zone(kZoneNormal).pages_emerg, strict_before);
  }
  Model model_;
};

// ---------------------------------------------------------------------------
// Create.

TEST_F(ReserveTreeTest, CreateLinksNodes) {
  EXPECT_TRUE(tree().IsLive(kRootReserve));
  EXPECT_STREQ(node(kRootReserve).name, "root");
  const ReserveId a = tree().Create("a", kRootReserve);
  const ReserveId b = tree().Create("b", kRootReserve);
  const ReserveId c = tree().Create("c", a);
  const ReserveId d = tree().Create("d", kNoReserve);
  ASSERT_NE(a, kNoReserve);
  EXPECT_EQ(node(a).parent, kRootReserve);
  EXPECT_EQ(node(kRootReserve).first_child, b) << "newest child first";
  EXPECT_EQ(node(b).next_sibling, a);
  EXPECT_EQ(node(a).next_sibling, kNoReserve);
  EXPECT_EQ(node(c).parent, a);
  EXPECT_EQ(node(a).first_child, c);
  EXPECT_EQ(node(d).parent, kNoReserve);
  EXPECT_EQ(node(a).kind, ReserveKind::kGroup);
  EXPECT_EQ(node(a).pages, 0u);
  EXPECT_EQ(node(a).limit, 0u);
  EXPECT_EQ(tree().TopOf(c), kRootReserve);
  EXPECT_EQ(tree().TopOf(d), d);
  EXPECT_TRUE(tree().IsAncestor(kRootReserve, c));
  EXPECT_TRUE(tree().IsAncestor(a, c));
  EXPECT_TRUE(tree().IsAncestor(c, c));
  EXPECT_FALSE(tree().IsAncestor(b, c));
  EXPECT_FALSE(tree().IsAncestor(kRootReserve, d));

  const ReserveId long_name =
      tree().Create("a-name-that-is-much-longer-than-thirty-one-bytes", kRootReserve);
  EXPECT_EQ(std::strlen(node(long_name).name), size_t{kReserveNameSize - 1});
  EXPECT_EQ(std::strncmp(node(long_name).name, "a-name-that-is-much-longer-than", 31), 0);
  EXPECT_EQ(tree().Create("orphan", 50), kNoReserve);  // 50 is not live

  int created = 5;  // a, b, c, d, long_name
  while (tree().Create("fill", kRootReserve) != kNoReserve) ++created;
  EXPECT_EQ(created, kMaxReserves - 1);
}

// ---------------------------------------------------------------------------
// Set.

TEST_F(ReserveTreeTest, SetPropagatesPagesToRootAndStrictReserve) {
  const ReserveId g = tree().Create("g", kRootReserve);
  const ReserveId p = tree().Create("p", g);
  const ReserveId k = tree().Create("k", g);
  const ReserveId c = tree().Create("c", kRootReserve);

  ASSERT_EQ(tree().PagesSet(p, 10), ReserveStatus::kOk);
  EXPECT_EQ(node(p).kind, ReserveKind::kPages);
  EXPECT_EQ(node(p).demand, 10u);
  EXPECT_EQ(node(p).own_pages, 10u);
  EXPECT_EQ(node(p).pages, 10u);
  EXPECT_EQ(node(p).own_limit, 40960u);
  EXPECT_EQ(node(p).limit, 40960u);
  EXPECT_EQ(node(g).own_pages, 0u);
  EXPECT_EQ(node(g).pages, 10u);
  EXPECT_EQ(node(g).limit, 40960u);
  EXPECT_EQ(node(kRootReserve).pages, 10u);
  EXPECT_EQ(strict(), 10u);
  EXPECT_EQ(model_.pages().zone(kZoneNormal).pages_emerg, 10u);

  // 100 bytes on 2 CPUs, exact estimator: no class can fill a slab, so it is
  // the slabs that may sit out of sight per reachable class (8, 16, 32, 64,
  // 96): (cpus - 1) * (1 + cpu_partial_slabs) + 1 order-0 slabs each, with
  // cpu_partial_slabs 1, 1, 2, 4, 6: 3 + 3 + 4 + 6 + 8 = 24 pages.
  ASSERT_EQ(tree().KmallocSet(k, 100), ReserveStatus::kOk);
  EXPECT_EQ(node(k).kind, ReserveKind::kKmalloc);
  EXPECT_EQ(node(k).own_pages, 24u);
  EXPECT_EQ(node(k).own_limit, 100u);
  EXPECT_EQ(node(g).pages, 34u);
  EXPECT_EQ(node(g).limit, 41060u);
  EXPECT_EQ(strict(), 34u);

  // A cache of 100-byte objects (slot 104): 39 per order-0 slab,
  // cpu_partial_slabs ceil(240 / 39) = 7. Ten objects: floor(10 / 39) full
  // slabs + (1 * (1 + 7) + 1) = 9 pages; limit 10 * 104 bytes.
  KmemCache* cache = model_.KmemCacheCreate("obj", 100, 8);
  ASSERT_EQ(cache->size, 104u);
  ASSERT_EQ(tree().CacheSet(c, cache, 10), ReserveStatus::kOk);
  EXPECT_EQ(node(c).kind, ReserveKind::kCache);
  EXPECT_EQ(node(c).cache_id, cache->id);
  EXPECT_EQ(node(c).demand, 10u);
  EXPECT_EQ(node(c).own_pages, 9u);
  EXPECT_EQ(node(c).own_limit, 1040u);
  EXPECT_EQ(node(kRootReserve).pages, 43u);
  EXPECT_EQ(node(kRootReserve).limit, 41060u + 1040u);
  EXPECT_EQ(strict(), 43u);

  // Shrinking and releasing.
  ASSERT_EQ(tree().PagesSet(p, 4), ReserveStatus::kOk);
  EXPECT_EQ(node(g).pages, 28u);
  EXPECT_EQ(strict(), 37u);
  ASSERT_EQ(tree().PagesSet(p, 0), ReserveStatus::kOk);
  EXPECT_EQ(node(p).kind, ReserveKind::kGroup);
  EXPECT_EQ(node(p).limit, 0u);
  EXPECT_EQ(strict(), 33u);
  ASSERT_EQ(tree().KmallocSet(k, 0), ReserveStatus::kOk);
  ASSERT_EQ(tree().CacheSet(c, cache, 0), ReserveStatus::kOk);
  EXPECT_EQ(strict(), 0u);
  EXPECT_EQ(node(kRootReserve).limit, 0u);
  EXPECT_EQ(tree().CacheSet(c, nullptr, 1), ReserveStatus::kInvalid);
  EXPECT_EQ(tree().PagesSet(60, 1), ReserveStatus::kInvalid);  // not live
  model_.CheckPristine();
}

TEST_F(ReserveTreeTest, SetRollsBackWhenTheAllocatorCannotProvide) {
  const ReserveId g = tree().Create("g", kRootReserve);
  const ReserveId p = tree().Create("p", g);
  const ReserveId q = tree().Create("q", g);
  ASSERT_EQ(tree().PagesSet(p, 100), ReserveStatus::kOk);
  std::vector<ReserveNode> before = Snapshot();
  EXPECT_EQ(tree().PagesSet(p, 3969), ReserveStatus::kNoMemory);
  ExpectUnchanged(before, 100);
  EXPECT_EQ(tree().PagesSet(q, 3869), ReserveStatus::kNoMemory);  // 3969 in all
  ExpectUnchanged(before, 100);
  EXPECT_EQ(tree().PagesSet(q, 5000), ReserveStatus::kNoMemory);  // > the arena
  ExpectUnchanged(before, 100);
  EXPECT_EQ(tree().KmallocSet(q, uint64_t{1} << 40), ReserveStatus::kNoMemory);
  ExpectUnchanged(before, 100);
  // 16 MiB of kmalloc needs more pages than the zone has (by any
  // estimator: 16 MiB / 4032 bytes per page alone is 4161 pages).
  EXPECT_EQ(tree().KmallocSet(q, 16u << 20), ReserveStatus::kNoMemory);
  ExpectUnchanged(before, 100);
  EXPECT_EQ(tree().PagesSet(q, 3868), ReserveStatus::kOk);
  EXPECT_EQ(strict(), 3968u);

  // With memory in use the room is smaller: 1000 pages out leave 3096,
  // so 2968 at most.
  ASSERT_EQ(tree().PagesSet(q, 0), ReserveStatus::kOk);
  std::vector<test::PageBlock> used;
  for (int i = 0; i < 1000; ++i) {
    const Pfn pfn = model_.AllocPages(0, KernelCtx());
    ASSERT_NE(pfn, kNoPfn);
    used.push_back({pfn, 0});
  }
  before = Snapshot();
  EXPECT_EQ(tree().PagesSet(q, 2869), ReserveStatus::kNoMemory);
  ExpectUnchanged(before, 100);
  EXPECT_EQ(tree().PagesSet(q, 2868), ReserveStatus::kOk);
  EXPECT_EQ(strict(), 2968u);
  test::FreeBlocks(model_, used);
}

TEST_F(ReserveTreeTest, ShrinkBelowUsageIsRefused) {
  const ReserveId p = tree().Create("p", kRootReserve);
  ASSERT_EQ(tree().PagesSet(p, 2), ReserveStatus::kOk);
  ASSERT_EQ(tree().TryCharge(p, 8192, "test").status, ReserveStatus::kOk);
  const std::vector<ReserveNode> before = Snapshot();
  EXPECT_EQ(tree().PagesSet(p, 1), ReserveStatus::kOverLimit);
  ExpectUnchanged(before, 2);
  tree().Uncharge(p, 4096);
  EXPECT_EQ(tree().PagesSet(p, 1), ReserveStatus::kOk);
  EXPECT_EQ(node(p).limit, 4096u);
  EXPECT_EQ(node(p).usage, 4096u);
  tree().Uncharge(p, 4096);
}

// ---------------------------------------------------------------------------
// Charge and uncharge.

TEST_F(ReserveTreeTest, ChargeIsAllOrNothingUpToTheRoot) {
  const ReserveId g = tree().Create("g", kRootReserve);
  const ReserveId p = tree().Create("p", g);
  ASSERT_EQ(tree().PagesSet(p, 2), ReserveStatus::kOk);  // limit 8192

  ChargeResult r = tree().TryCharge(p, 8192, "test");  // usage + c <= limit
  EXPECT_EQ(r.status, ReserveStatus::kOk);
  EXPECT_EQ(r.refused_by, kNoReserve);
  EXPECT_EQ(node(p).own_usage, 8192u);
  EXPECT_EQ(node(p).usage, 8192u);
  EXPECT_EQ(node(g).usage, 8192u);
  EXPECT_EQ(node(g).own_usage, 0u);
  EXPECT_EQ(node(kRootReserve).usage, 8192u);

  const std::vector<ReserveNode> full = Snapshot();
  r = tree().TryCharge(p, 1, "test");
  EXPECT_EQ(r.status, ReserveStatus::kOverLimit);
  EXPECT_EQ(r.refused_by, p);
  ExpectUnchanged(full, 2);

  tree().Uncharge(p, 4096);
  EXPECT_EQ(node(p).usage, 4096u);
  EXPECT_EQ(node(g).usage, 4096u);
  EXPECT_EQ(node(kRootReserve).usage, 4096u);
  EXPECT_EQ(tree().TryCharge(p, 4096, "test").status, ReserveStatus::kOk);
  EXPECT_EQ(tree().TryCharge(p, 0, "test").status, ReserveStatus::kOk);

  // A group holds nothing itself, not even the root.
  r = tree().TryCharge(g, 1, "test");
  EXPECT_EQ(r.status, ReserveStatus::kOverLimit);
  EXPECT_EQ(r.refused_by, g);
  r = tree().TryCharge(kRootReserve, 1, "test");
  EXPECT_EQ(r.refused_by, kRootReserve);
  EXPECT_EQ(tree().TryCharge(40, 1, "test").status, ReserveStatus::kInvalid);
  EXPECT_EQ(node(kRootReserve).usage, 8192u);

  // A detached node accounts only within its own subtree.
  const ReserveId d = tree().Create("d", kNoReserve);
  ASSERT_EQ(tree().PagesSet(d, 1), ReserveStatus::kOk);
  EXPECT_EQ(strict(), 2u);
  EXPECT_EQ(tree().TryCharge(d, 4096, "test").status, ReserveStatus::kOk);
  EXPECT_EQ(node(d).usage, 4096u);
  EXPECT_EQ(node(kRootReserve).usage, 8192u);

  tree().Uncharge(p, 8192);
  tree().Uncharge(d, 4096);
  EXPECT_TRUE(tree().AllUsageZero());
}

// TryCharge has no multi-level rollback: under the limit rules (a node's
// limit is its own plus its children's, nobody is ever above its own limit)
// every ancestor has at least the charged node's own room, so the own limit
// is the only test that can refuse (docs/MODEL.md, "The reserve tree"). This
// walks many trees, sets, re-sets, connects, disconnects and charges with a
// fixed generator and checks, at every charge, that the own limit alone
// decides, that every level is charged on success and none on refusal, and
// that the full audit agrees afterwards.
TEST_F(ReserveTreeTest, TheOwnLimitIsTheOnlyRefusal) {
  uint64_t state = 12345;
  auto next = [&](uint64_t bound) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % bound;
  };
  std::vector<ReserveId> nodes = {kRootReserve};
  struct Charge { ReserveId node; uint64_t bytes; };
  std::vector<Charge> charges;
  int refused = 0, granted = 0;
  for (int step = 0; step < 3000; ++step) {
    const ReserveId pick = nodes[next(nodes.size())];
    switch (next(6)) {
      case 0:
        if (nodes.size() < 24) {
          const ReserveId id = tree().Create("n", next(4) == 0 ? kNoReserve : pick);
          if (id != kNoReserve) nodes.push_back(id);
        }
        break;
      case 1:
        if (pick != kRootReserve) tree().PagesSet(pick, next(12));
        break;
      case 2:
        if (pick != kRootReserve) {
          if (tree().node(pick).parent == kNoReserve) {
            tree().Connect(pick, nodes[next(nodes.size())]);
          } else {
            tree().Disconnect(pick);
          }
        }
        break;
      case 3:
        if (!charges.empty()) {
          const size_t i = next(charges.size());
          tree().Uncharge(charges[i].node, charges[i].bytes);
          charges.erase(charges.begin() + static_cast<std::ptrdiff_t>(i));
        }
        break;
      default: {
        const uint64_t bytes = next(3) == 0 ? 4096 : next(20000);
        const ReserveNode own = tree().node(pick);
        std::vector<uint64_t> usage_before;
        for (ReserveId at = pick; at != kNoReserve; at = tree().node(at).parent) {
          usage_before.push_back(tree().node(at).usage);
        }
        const ChargeResult r = tree().TryCharge(pick, bytes, "test");
        const bool fits = own.own_usage + bytes <= own.own_limit;
        ASSERT_EQ(r.status == ReserveStatus::kOk, fits) << "step " << step;
        size_t level = 0;
        for (ReserveId at = pick; at != kNoReserve; at = tree().node(at).parent) {
          EXPECT_EQ(tree().node(at).usage, usage_before[level++] + (fits ? bytes : 0));
        }
        if (fits) {
          ++granted;
          charges.push_back({pick, bytes});
        } else {
          ++refused;
          EXPECT_EQ(r.status, ReserveStatus::kOverLimit);
          EXPECT_EQ(r.refused_by, pick);
        }
      }
    }
    tree().AuditFull();
  }
  EXPECT_GT(granted, 100);
  EXPECT_GT(refused, 100);
  for (const Charge& c : charges) tree().Uncharge(c.node, c.bytes);
}

// What a rollback used to guard against, numbers gone wrong above the
// charged node, is the audit's to report now: the charge's path audit
// catches an ancestor whose usage no longer matches its subtree.
struct AuditReport {
  std::string place;
};
[[noreturn]] void ThrowAuditReport(BugClass, const char* place, const char*) {
  throw AuditReport{place};
}

TEST_F(ReserveTreeTest, WrongNumbersAboveTheNodeAreTheAuditsToReport) {
  const ReserveId g = tree().Create("g", kRootReserve);
  const ReserveId h = tree().Create("h", g);
  const ReserveId p = tree().Create("p", h);
  ASSERT_EQ(tree().PagesSet(p, 4), ReserveStatus::kOk);
  ASSERT_EQ(tree().TryCharge(p, 4096, "test").status, ReserveStatus::kOk);
  tree().CorruptUsageForTesting(g, 3 * 4096);  // g now looks full
  SetReportHandlerForTesting(&ThrowAuditReport);
  std::string place;
  try {
    tree().TryCharge(p, 4096, "test");
  } catch (const AuditReport& report) {
    place = report.place;
  }
  SetReportHandlerForTesting(nullptr);
  EXPECT_EQ(place, "reserve.audit_subtree_sums/usage");
  tree().CorruptUsageForTesting(g, -3 * 4096);
  tree().Uncharge(p, 4096);
  tree().Uncharge(p, 4096);
  tree().AuditFull();
}

// AuditFull() walks the slots up to the highest one live since the reset:
// a node in a high slot, detached (so that no other node's sums see it)
// and with the slots below it freed again, is still audited; after a
// reset the walk starts again from the root alone.
TEST_F(ReserveTreeTest, TheFullAuditReachesTheHighestSlotUsed) {
  // The place of the report the full audit makes ("" when it makes none).
  auto audit_place = [this]() {
    std::string place;
    SetReportHandlerForTesting(&ThrowAuditReport);
    try {
      tree().AuditFull();
    } catch (const AuditReport& report) {
      place = report.place;
    }
    SetReportHandlerForTesting(nullptr);
    return place;
  };
  std::vector<ReserveId> low;
  for (int i = 0; i < 6; ++i) low.push_back(tree().Create("low", kRootReserve));
  const ReserveId high = tree().Create("high", kNoReserve);
  ASSERT_NE(high, kNoReserve);
  for (ReserveId id : low) ASSERT_EQ(tree().Destroy(id), ReserveStatus::kOk);
  EXPECT_EQ(audit_place(), "");  // clean
  tree().CorruptUsageForTesting(high, 4096);
  EXPECT_EQ(audit_place(), "reserve.audit_subtree_sums/usage");
  tree().CorruptUsageForTesting(high, -4096);
  model_.Reset();
  const ReserveId again = tree().Create("again", kNoReserve);
  EXPECT_EQ(again, 1);  // the lowest free slot, as before
  tree().CorruptUsageForTesting(again, 8);
  EXPECT_EQ(audit_place(), "reserve.audit_subtree_sums/usage");
  tree().CorruptUsageForTesting(again, -8);
  EXPECT_EQ(audit_place(), "");
}

// ---------------------------------------------------------------------------
// Connect and disconnect.

TEST_F(ReserveTreeTest, ConnectAndDisconnectMoveThePagesLimitAndUsage) {
  const ReserveId g = tree().Create("g", kRootReserve);
  const ReserveId p = tree().Create("p", g);
  ASSERT_EQ(tree().PagesSet(p, 10), ReserveStatus::kOk);
  // A detached subtree d -> e, charged: it does not count towards the
  // strict reserve.
  const ReserveId d = tree().Create("d", kNoReserve);
  const ReserveId e = tree().Create("e", d);
  ASSERT_EQ(tree().PagesSet(e, 20), ReserveStatus::kOk);
  ASSERT_EQ(tree().TryCharge(e, 3 * 4096, "test").status, ReserveStatus::kOk);
  EXPECT_EQ(strict(), 10u);
  EXPECT_EQ(node(d).pages, 20u);
  EXPECT_EQ(node(d).usage, 12288u);

  ASSERT_EQ(tree().Connect(d, g), ReserveStatus::kOk);
  EXPECT_EQ(node(d).parent, g);
  EXPECT_EQ(node(g).first_child, d);
  EXPECT_EQ(node(g).pages, 30u);
  EXPECT_EQ(node(g).limit, 30u * 4096);
  EXPECT_EQ(node(g).usage, 12288u);
  EXPECT_EQ(node(kRootReserve).pages, 30u);
  EXPECT_EQ(node(kRootReserve).usage, 12288u);
  EXPECT_EQ(strict(), 30u);
  EXPECT_EQ(tree().TopOf(e), kRootReserve);

  // Charges made while attached stay with the subtree when it leaves.
  ASSERT_EQ(tree().TryCharge(e, 4096, "test").status, ReserveStatus::kOk);
  ASSERT_EQ(tree().Disconnect(d), ReserveStatus::kOk);
  EXPECT_EQ(node(d).parent, kNoReserve);
  EXPECT_EQ(node(g).first_child, p);
  EXPECT_EQ(node(g).pages, 10u);
  EXPECT_EQ(node(g).limit, 40960u);
  EXPECT_EQ(node(g).usage, 0u);
  EXPECT_EQ(node(kRootReserve).usage, 0u);
  EXPECT_EQ(strict(), 10u);
  EXPECT_EQ(node(d).pages, 20u);
  EXPECT_EQ(node(d).limit, 20u * 4096);
  EXPECT_EQ(node(d).usage, 16384u);
  // Sizing a detached node does not touch the strict reserve.
  ASSERT_EQ(tree().PagesSet(e, 25), ReserveStatus::kOk);
  EXPECT_EQ(strict(), 10u);

  // A detached subtree under another detached one, then both attached.
  const ReserveId top = tree().Create("top", kNoReserve);
  ASSERT_EQ(tree().Connect(d, top), ReserveStatus::kOk);
  EXPECT_EQ(strict(), 10u);
  EXPECT_EQ(node(top).pages, 25u);
  ASSERT_EQ(tree().Connect(top, kRootReserve), ReserveStatus::kOk);
  EXPECT_EQ(strict(), 35u);
  EXPECT_EQ(node(kRootReserve).usage, 16384u);
  ASSERT_EQ(tree().Disconnect(top), ReserveStatus::kOk);
  EXPECT_EQ(strict(), 10u);
  tree().Uncharge(e, 16384);
  model_.AuditFull();
}

TEST_F(ReserveTreeTest, ConnectRefusesCyclesAndBadArguments) {
  const ReserveId g = tree().Create("g", kRootReserve);
  const ReserveId d = tree().Create("d", kNoReserve);
  const ReserveId e = tree().Create("e", d);
  const ReserveId f = tree().Create("f", e);
  const std::vector<ReserveNode> before = Snapshot();
  EXPECT_EQ(tree().Connect(d, e), ReserveStatus::kInvalid);  // e is below d
  EXPECT_EQ(tree().Connect(d, f), ReserveStatus::kInvalid);
  EXPECT_EQ(tree().Connect(d, d), ReserveStatus::kInvalid);
  EXPECT_EQ(tree().Connect(e, g), ReserveStatus::kInvalid);  // attached already
  EXPECT_EQ(tree().Connect(kRootReserve, g), ReserveStatus::kInvalid);
  EXPECT_EQ(tree().Connect(d, 50), ReserveStatus::kInvalid);
  EXPECT_EQ(tree().Disconnect(d), ReserveStatus::kInvalid);  // not attached
  EXPECT_EQ(tree().Disconnect(kRootReserve), ReserveStatus::kInvalid);
  ExpectUnchanged(before, 0);
  // Disconnecting g and connecting it below its own descendant is a cycle.
  const ReserveId h = tree().Create("h", g);
  ASSERT_EQ(tree().Disconnect(g), ReserveStatus::kOk);
  EXPECT_EQ(tree().Connect(g, h), ReserveStatus::kInvalid);
  EXPECT_EQ(tree().Connect(g, kRootReserve), ReserveStatus::kOk);
}

TEST_F(ReserveTreeTest, ConnectRollsBackWhenTheAllocatorCannotProvide) {
  const ReserveId p = tree().Create("p", kRootReserve);
  ASSERT_EQ(tree().PagesSet(p, 10), ReserveStatus::kOk);
  const ReserveId d = tree().Create("d", kNoReserve);
  ASSERT_EQ(tree().PagesSet(d, 3959), ReserveStatus::kOk);  // detached: fine
  const std::vector<ReserveNode> before = Snapshot();
  EXPECT_EQ(tree().Connect(d, p), ReserveStatus::kNoMemory);  // 3969 > 3968
  ExpectUnchanged(before, 10);
  ASSERT_EQ(tree().PagesSet(d, 3958), ReserveStatus::kOk);
  EXPECT_EQ(tree().Connect(d, p), ReserveStatus::kOk);
  EXPECT_EQ(strict(), 3968u);
}

// ---------------------------------------------------------------------------
// Destroy.

TEST_F(ReserveTreeTest, DestroyRules) {
  const ReserveId g = tree().Create("g", kRootReserve);
  const ReserveId p = tree().Create("p", g);
  const ReserveId q = tree().Create("q", g);
  ASSERT_EQ(tree().PagesSet(p, 1), ReserveStatus::kOk);
  ASSERT_EQ(tree().TryCharge(p, 100, "test").status, ReserveStatus::kOk);
  EXPECT_EQ(tree().Destroy(kRootReserve), ReserveStatus::kInvalid);
  EXPECT_EQ(tree().Destroy(g), ReserveStatus::kInvalid);  // has children
  EXPECT_EQ(tree().Destroy(p), ReserveStatus::kInvalid);  // pages and usage
  tree().Uncharge(p, 100);
  EXPECT_EQ(tree().Destroy(p), ReserveStatus::kInvalid);  // pages
  ASSERT_EQ(tree().PagesSet(p, 0), ReserveStatus::kOk);
  EXPECT_EQ(tree().Destroy(p), ReserveStatus::kOk);
  EXPECT_FALSE(tree().IsLive(p));
  EXPECT_EQ(node(g).first_child, q);
  EXPECT_EQ(node(q).next_sibling, kNoReserve);
  EXPECT_EQ(tree().Destroy(p), ReserveStatus::kInvalid);  // twice
  EXPECT_EQ(tree().Destroy(kNoReserve), ReserveStatus::kInvalid);
  EXPECT_EQ(tree().Destroy(q), ReserveStatus::kOk);
  EXPECT_EQ(tree().Destroy(g), ReserveStatus::kOk);
  EXPECT_EQ(node(kRootReserve).first_child, kNoReserve);
  const ReserveId d = tree().Create("d", kNoReserve);
  EXPECT_EQ(tree().Destroy(d), ReserveStatus::kOk);
  EXPECT_EQ(tree().Create("again", kRootReserve), g);  // lowest free slot
  model_.AuditFull();
}

// ---------------------------------------------------------------------------
// Injected faults: nothing changes.

class FailSite : public FaultHook {
 public:
  explicit FailSite(FaultSite site) : site_(site) {}
  bool ShouldFail(const FaultCall& call) override { return call.site == site_; }

 private:
  FaultSite site_;
};

TEST_F(ReserveTreeTest, InjectedSetAndChargeChangeNothing) {
  const ReserveId p = tree().Create("p", kRootReserve);
  ASSERT_EQ(tree().PagesSet(p, 4), ReserveStatus::kOk);
  FailSite fail_set(FaultSite::kReserveSet);
  model_.SetFaultHook(&fail_set);
  std::vector<ReserveNode> before = Snapshot();
  EXPECT_EQ(tree().PagesSet(p, 5), ReserveStatus::kInjected);
  ExpectUnchanged(before, 4);
  EXPECT_EQ(model_.fault_gate().injected_total(), 1u);
  FailSite fail_charge(FaultSite::kReserveCharge);
  model_.SetFaultHook(&fail_charge);
  const ChargeResult r = tree().TryCharge(p, 4096, "test");
  EXPECT_EQ(r.status, ReserveStatus::kInjected);
  EXPECT_EQ(r.refused_by, p);
  ExpectUnchanged(before, 4);
  model_.SetFaultHook(nullptr);
}

// ---------------------------------------------------------------------------
// The reserve wrappers.
//
// 512 pages, min_free_kbytes 400: min 100, low 125; unentitled pressure
// leaves min + the strict reserve.

class ReserveWrapperTest : public ::testing::Test {
 protected:
  ReserveWrapperTest() : model_(Config()) {}
  static ModelConfig Config() {
    ModelConfig config;
    config.normal_pages = 512;
    config.max_order = 7;
    config.min_free_kbytes = 400;
    config.nr_cpus = 2;
    config.audit = AuditLevel::kFull;
    return config;
  }
  ReserveTree& tree() { return model_.reserves(); }
  uint64_t usage(ReserveId id) { return tree().node(id).usage; }
  bool OnReservePage(const void* object) {
    const Pfn head = SlabHeadOf(model_, object);
    const Pfn pfn = head != kNoPfn ? head : model_.pages().AddressToPfn(object);
    return model_.pages().frame(pfn).flags & kPagePfmemalloc;
  }
  Model model_;
};

TEST_F(ReserveWrapperTest, NormalAllocationFirstNoCharge) {
  const ReserveId k = tree().Create("k", kRootReserve);
  ASSERT_EQ(tree().KmallocSet(k, 1000), ReserveStatus::kOk);
  const ReserveGrant grant = model_.KmallocReserve(100, MemallocCtx(), k);
  ASSERT_TRUE(grant.ok());
  EXPECT_FALSE(grant.emergency);
  EXPECT_EQ(grant.charged, 0u);
  EXPECT_EQ(grant.node, k);
  EXPECT_EQ(grant.charge_status, ReserveStatus::kOk);
  EXPECT_EQ(usage(k), 0u);
  EXPECT_FALSE(OnReservePage(grant.object));
  model_.KfreeReserve(grant);
  EXPECT_EQ(usage(k), 0u);
  EXPECT_FALSE(model_.reserve_used_unaccounted());
}

TEST_F(ReserveWrapperTest, EmergencyOnlyForEntitledCallersAfterANormalFailure) {
  const ReserveId k = tree().Create("k", kRootReserve);
  ASSERT_EQ(tree().KmallocSet(k, 1000), ReserveStatus::kOk);
  // A kmalloc-128 slab with free objects, made before the pressure.
  void* keep = model_.Kmalloc(128, KernelCtx(0));
  // Atomic pressure leaves 38 pages (min relaxed 100 -> 50 -> 38) above the
  // strict reserve: less than any unentitled request can reach, including
  // the wrappers' normal attempt (NOMEMALLOC also drops ALLOC_NON_BLOCK).
  std::vector<test::PageBlock> pressure = Exhaust(model_, test::GfpCtx(kGfpAtomic));
  ASSERT_EQ(model_.pages().free_pages(), 38 + model_.pages().strict_reserve());

  // The normal attempt still succeeds where a slab has room: no charge.
  ReserveGrant normal = model_.KmallocReserve(100, MemallocCtx(0), k);
  ASSERT_TRUE(normal.ok());
  EXPECT_FALSE(normal.emergency);
  EXPECT_EQ(SlabHeadOf(model_, normal.object), SlabHeadOf(model_, keep));
  EXPECT_EQ(usage(k), 0u);

  // Unentitled callers (and entitled ones that say NOMEMALLOC) fail and are
  // never charged.
  AllocContext nomemalloc = MemallocCtx(0);
  nomemalloc.gfp |= kGfpNoMemalloc;
  for (const AllocContext& ctx : {KernelCtx(0), test::GfpCtx(kGfpAtomic, 1), nomemalloc}) {
    const ReserveGrant refused = model_.KmallocReserve(65, ctx, k);
    EXPECT_FALSE(refused.ok());
    EXPECT_FALSE(refused.emergency);
    EXPECT_EQ(refused.charged, 0u);
    EXPECT_EQ(refused.charge_status, ReserveStatus::kOk);
    EXPECT_EQ(usage(k), 0u);
  }

  // Entitled callers: charged the class size (= ksize), not the request or
  // its power-of-two round-up.
  struct Case {
    size_t size;
    uint64_t charge;
    AllocContext ctx;
  };
  AllocContext pf_memalloc = KernelCtx(1);
  pf_memalloc.pf_memalloc = true;
  const Case cases[] = {{65, 96, MemallocCtx(0)},
                        {150, 192, pf_memalloc},
                        {100, 128, MemallocCtx(1)},
                        {8, 8, MemallocCtx(0)}};
  std::vector<ReserveGrant> grants;
  uint64_t total = 0;
  for (const Case& c : cases) {
    const ReserveGrant grant = model_.KmallocReserve(c.size, c.ctx, k);
    ASSERT_TRUE(grant.ok()) << c.size;
    EXPECT_TRUE(grant.emergency) << c.size;
    EXPECT_EQ(grant.charged, c.charge) << c.size;
    EXPECT_EQ(model_.Ksize(grant.object), c.charge);
    EXPECT_TRUE(OnReservePage(grant.object)) << c.size;
    total += c.charge;
    EXPECT_EQ(usage(k), total);
    EXPECT_EQ(usage(kRootReserve), total);
    grants.push_back(grant);
  }
  EXPECT_FALSE(model_.reserve_used_unaccounted());

  // Over the limit: 424 + 1024 > 1000. Refused, nothing charged.
  const ReserveGrant over = model_.KmallocReserve(1000, MemallocCtx(0), k);
  EXPECT_FALSE(over.ok());
  EXPECT_FALSE(over.emergency);
  EXPECT_EQ(over.charge_status, ReserveStatus::kOverLimit);
  EXPECT_EQ(usage(k), total);

  // Each free uncharges exactly its own charge.
  for (const ReserveGrant& grant : grants) {
    model_.KfreeReserve(grant, 1);
    total -= grant.charged;
    EXPECT_EQ(usage(k), total);
  }
  model_.KfreeReserve(normal);
  model_.Kfree(keep);
  test::FreeBlocks(model_, pressure);
  ASSERT_EQ(tree().KmallocSet(k, 0), ReserveStatus::kOk);
  model_.CheckPristine();
}

TEST_F(ReserveWrapperTest, PagesCacheAndLargeKmalloc) {
  const ReserveId pg = tree().Create("pages", kRootReserve);
  const ReserveId cn = tree().Create("cache", kRootReserve);
  const ReserveId big = tree().Create("big", kRootReserve);
  KmemCache* cache = model_.KmemCacheCreate("obj", 100, 8);
  ASSERT_EQ(tree().PagesSet(pg, 8), ReserveStatus::kOk);
  ASSERT_EQ(tree().CacheSet(cn, cache, 10), ReserveStatus::kOk);
  ASSERT_EQ(tree().KmallocSet(big, 20000), ReserveStatus::kOk);
  std::vector<test::PageBlock> pressure = Exhaust(model_, KernelCtx());

  const ReserveGrant unentitled = model_.AllocPagesReserve(1, KernelCtx(), pg);
  EXPECT_FALSE(unentitled.ok());
  EXPECT_EQ(usage(pg), 0u);

  const ReserveGrant pages = model_.AllocPagesReserve(1, MemallocCtx(), pg);
  ASSERT_TRUE(pages.ok());
  EXPECT_TRUE(pages.emergency);
  EXPECT_EQ(pages.charged, 8192u);
  EXPECT_EQ(pages.order, 1);
  EXPECT_EQ(pages.object, model_.pages().PageAddress(pages.pfn));
  EXPECT_TRUE(model_.pages().frame(pages.pfn).flags & kPagePfmemalloc);
  EXPECT_EQ(usage(pg), 8192u);

  const ReserveGrant object = model_.KmemCacheAllocReserve(cache, MemallocCtx(1), cn);
  ASSERT_TRUE(object.ok());
  EXPECT_TRUE(object.emergency);
  EXPECT_EQ(object.charged, 104u);  // the slot size
  EXPECT_EQ(usage(cn), 104u);
  EXPECT_TRUE(OnReservePage(object.object));

  // Large kmalloc: the page-rounded block, 16 KiB for 10000 bytes.
  const ReserveGrant large = model_.KmallocReserve(10000, MemallocCtx(), big);
  ASSERT_TRUE(large.ok());
  EXPECT_TRUE(large.emergency);
  EXPECT_EQ(large.charged, 16384u);
  EXPECT_EQ(large.charged, KmallocChargeBytes(10000));
  EXPECT_EQ(model_.Ksize(large.object), 16384u);
  EXPECT_EQ(usage(big), 16384u);
  EXPECT_EQ(usage(kRootReserve), 8192u + 104u + 16384u);

  model_.FreePagesReserve(pages);
  EXPECT_EQ(usage(pg), 0u);
  model_.KmemCacheFreeReserve(cache, object, 0);
  EXPECT_EQ(usage(cn), 0u);
  model_.KfreeReserve(large);
  EXPECT_EQ(usage(big), 0u);
  EXPECT_TRUE(tree().AllUsageZero());

  // Memory back: the normal path serves an entitled caller again.
  test::FreeBlocks(model_, pressure);
  const ReserveGrant calm = model_.AllocPagesReserve(0, MemallocCtx(), pg);
  ASSERT_TRUE(calm.ok());
  EXPECT_FALSE(calm.emergency);
  EXPECT_EQ(usage(pg), 0u);
  model_.FreePagesReserve(calm);
  EXPECT_EQ(usage(pg), 0u);
}

// A wrapper charged to a reserve of another kind (kmalloc_reserve against a
// pages reserve, a cache object against a kmalloc reserve) takes reserve
// pages that reserve's estimate never budgeted: 96 + 128 bytes fit a
// 1-page reserve's 4096-byte limit but need two slabs. A correctly sized
// user failing afterwards is no guarantee violation; the oracle must treat
// such use like any other unaccounted use of the reserve.
TEST(ReserveWrapperKindTest, MismatchedKindMakesReserveUseUnaccounted) {
  ModelConfig config;
  config.normal_pages = 256;
  config.max_order = 6;
  config.min_free_kbytes = 0;
  config.nr_cpus = 1;
  Model model(config);
  ReserveTree& tree = model.reserves();
  const ReserveId pages = tree.Create("pages", kRootReserve);
  ASSERT_EQ(tree.PagesSet(pages, 1), ReserveStatus::kOk);
  const ReserveId net = tree.Create("net", kRootReserve);
  ASSERT_EQ(tree.KmallocSet(net, 24), ReserveStatus::kOk);  // 8, 16: 2 pages
  ASSERT_EQ(model.pages().strict_reserve(), 3u);
  Exhaust(model, KernelCtx());

  // Matching kinds keep the oracle on.
  const ReserveGrant page = model.AllocPagesReserve(0, MemallocCtx(), pages);
  ASSERT_TRUE(page.emergency);
  EXPECT_FALSE(model.reserve_used_unaccounted());
  model.FreePagesReserve(page);

  for (size_t size : {96, 128}) {
    const ReserveGrant grant = model.KmallocReserve(size, MemallocCtx(), pages);
    ASSERT_TRUE(grant.emergency) << size;
  }
  EXPECT_TRUE(model.reserve_used_unaccounted());
  EXPECT_EQ(model.pages().pfmemalloc_pages(), 2u);
  // 'net' gets the last page, then fails for want of pages: no report.
  EXPECT_TRUE(model.KmallocReserve(8, MemallocCtx(), net).ok());
  const ReserveGrant starved = model.KmallocReserve(16, MemallocCtx(), net);
  EXPECT_FALSE(starved.ok());
  EXPECT_EQ(tree.node(net).usage, 8u);

  // The same for a cache object charged to a kmalloc reserve, and pages
  // charged to a cache reserve.
  model.Reset();
  KmemCache* cache = model.KmemCacheCreate("objs", 200, 8);
  const ReserveId k = tree.Create("k", kRootReserve);
  ASSERT_EQ(tree.KmallocSet(k, 4096), ReserveStatus::kOk);
  const ReserveId c = tree.Create("c", kRootReserve);
  ASSERT_EQ(tree.CacheSet(c, cache, 4), ReserveStatus::kOk);
  Exhaust(model, KernelCtx());
  EXPECT_TRUE(model.KmallocReserve(64, MemallocCtx(), k).emergency);
  EXPECT_TRUE(model.KmemCacheAllocReserve(cache, MemallocCtx(), c).emergency);
  EXPECT_FALSE(model.reserve_used_unaccounted());
  EXPECT_TRUE(model.KmemCacheAllocReserve(cache, MemallocCtx(), k).emergency);
  EXPECT_TRUE(model.reserve_used_unaccounted());
  model.Reset();
  const ReserveId c2 = tree.Create("c2", kRootReserve);
  KmemCache* cache2 = model.KmemCacheCreate("objs", 200, 8);
  ASSERT_EQ(tree.CacheSet(c2, cache2, 40), ReserveStatus::kOk);
  Exhaust(model, KernelCtx());
  EXPECT_TRUE(model.AllocPagesReserve(0, MemallocCtx(), c2).emergency);
  EXPECT_TRUE(model.reserve_used_unaccounted());
}

}  // namespace
}  // namespace reservoir
