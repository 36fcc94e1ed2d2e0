// The injectors against the real allocator model: a systematic fail_nth walk
// over a careful workload (no error path may leave a bug behind), and a
// deliberately broken user of the reserve API whose error path forgets to
// uncharge - the model's pristine check must catch it under injection and
// only under injection.
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "reservoir/injectors/fail_nth_enumerator.h"
#include "reservoir/injectors/fault_config_syntax.h"
#include "reservoir/injectors/fault_injector.h"
#include "reservoir/model.h"
#include "reservoir/report.h"

namespace reservoir::injectors {
namespace {

// Bug reports become exceptions, so one test can watch many runs.
struct BugReported {
  BugClass bug_class;
  std::string line;
};

[[noreturn]] void ThrowReport(BugClass bug_class, const char* /*place*/,
                              const char* line) {
  throw BugReported{bug_class, line};
}

class ReportsThrow {
 public:
  ReportsThrow() { SetReportHandlerForTesting(&ThrowReport); }
  ~ReportsThrow() { SetReportHandlerForTesting(nullptr); }
};

ModelConfig SmallModel() {
  ModelConfig config;
  config.normal_pages = 1024;
  config.max_order = 7;
  config.audit = AuditLevel::kFull;
  return config;
}

// syzkaller's setup: no capability filter hides blocking or order-0 calls.
FaultConfig Systematic() {
  absl::StatusOr<FaultConfig> config = ParseFaultConfig(
      "verbose=0;fail_page_alloc.min-order=0;fail_page_alloc.ignore-gfp-wait=0;"
      "fail_page_alloc.ignore-gfp-highmem=0;failslab.ignore-gfp-wait=0;"
      "failslab_new_slab.ignore-gfp-wait=0");
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

AllocContext Context(Gfp gfp) {
  AllocContext ctx;
  ctx.gfp = gfp;
  return ctx;
}

// Releasing a reserve goes through the reserve_set site too, so a careful
// user retries an injected refusal (one fail_nth failure per run).
void ReleaseReserve(Model& model, ReserveId node) {
  ReserveStatus status;
  do {
    status = model.reserves().KmallocSet(node, 0);
  } while (status == ReserveStatus::kInjected);
  ASSERT_EQ(status, ReserveStatus::kOk);
  ASSERT_EQ(model.reserves().Destroy(node), ReserveStatus::kOk);
}

// Every layer, with every failure handled.
void CarefulWorkload(Model& model) {
  const AllocContext kernel = Context(kGfpKernel);
  const AllocContext atomic = Context(kGfpAtomic);
  const AllocContext memalloc = Context(kGfpAtomic | kGfpMemalloc);

  const ReserveId node =
      model.reserves().Create("net", model.reserves().root());
  ASSERT_NE(node, kNoReserve);
  const bool reserved =
      model.reserves().KmallocSet(node, 2048) == ReserveStatus::kOk;

  void* small = model.Kmalloc(96, kernel);
  void* large = model.Kmalloc(5000, atomic);
  const Pfn pages = model.AllocPages(2, atomic);
  ReserveGrant grant;
  if (reserved) grant = model.KmallocReserve(200, memalloc, node);
  // A direct charge, so the charge site is on the fault-free path too (the
  // wrappers only charge after a failure, which one fail_nth cannot add).
  const bool charged =
      reserved && model.reserves().TryCharge(node, 64, "careful_user").status ==
                      ReserveStatus::kOk;
  KmemCache* cache = model.KmemCacheCreate("toy_cache", 40, 8);
  void* object =
      cache != nullptr ? model.KmemCacheAlloc(cache, atomic) : nullptr;

  if (object != nullptr) model.KmemCacheFree(cache, object);
  if (cache != nullptr) model.KmemCacheDestroy(cache);
  if (grant.ok()) model.KfreeReserve(grant);
  if (charged) model.reserves().Uncharge(node, 64);
  if (pages != kNoPfn) model.FreePages(pages, 2);
  if (large != nullptr) model.Kfree(large);
  if (small != nullptr) model.Kfree(small);
  ReleaseReserve(model, node);
}

TEST(ModelIntegrationTest, FailNthWalksEveryEligibleCallOfARealWorkload) {
  ReportsThrow reports;
  FaultInjector injector(Systematic());

  // The fault-free run: K eligible calls. Run N <= K is identical to it up
  // to its N-th call, so that call is reached and fails; run K + 1 is the
  // fault-free run again and ends the walk. So the walk must inject exactly
  // K failures.
  uint64_t fault_free_calls = 0;
  std::set<FaultSite> sites_reached;
  {
    Model model(SmallModel());
    model.SetFaultHook(&injector);
    CarefulWorkload(model);
    model.CheckPristine();
    model.SetFaultHook(nullptr);
    fault_free_calls = injector.context_calls();
    for (int i = 0; i < kFaultSiteCount; ++i) {
      if (injector.site_calls(SiteAt(i)) > 0) sites_reached.insert(SiteAt(i));
    }
    EXPECT_EQ(injector.injected(), 0u);
  }
  ASSERT_GE(fault_free_calls, 8u);

  std::vector<std::string> bugs;
  std::set<FaultSite> sites_failed;
  const FailNthWalk walk = EnumerateFailNth(injector, [&](uint64_t nth) {
    Model model(SmallModel());
    model.SetFaultHook(&injector);
    try {
      CarefulWorkload(model);
      model.CheckPristine();
    } catch (const BugReported& bug) {
      bugs.push_back("fail-nth=" + std::to_string(nth) + ": " + bug.line);
    }
    model.SetFaultHook(nullptr);
    if (injector.fail_nth_fired()) {
      EXPECT_EQ(model.fault_gate().injected_total(), 1u) << nth;
      sites_failed.insert(injector.log().newest()->site);
    }
  });
  EXPECT_EQ(walk.failures_injected, fault_free_calls);
  EXPECT_EQ(walk.runs, fault_free_calls + 1);
  EXPECT_TRUE(bugs.empty()) << bugs.front();
  // Every site the workload reaches was failed once at least, and the
  // workload reaches them all.
  EXPECT_EQ(sites_failed, sites_reached);
  EXPECT_EQ(sites_reached.size(), static_cast<size_t>(kFaultSiteCount));
}

// The broken user: it charges its reserve, then allocates, and when the
// allocation fails it returns without uncharging.
class LeakyReserveUser {
 public:
  explicit LeakyReserveUser(Model& model) : model_(model) {}

  bool Setup() {
    node_ = model_.reserves().Create("leaky", model_.reserves().root());
    return node_ != kNoReserve &&
           model_.reserves().KmallocSet(node_, 4096) == ReserveStatus::kOk;
  }
  bool Acquire(uint64_t bytes) {
    if (model_.reserves().TryCharge(node_, bytes, "leaky_user").status !=
        ReserveStatus::kOk) {
      return false;
    }
    object_ = model_.Kmalloc(bytes, Context(kGfpAtomic));
    if (object_ == nullptr) return false;  // BUG: the charge stays behind
    charged_ = bytes;
    return true;
  }
  void Release() {
    if (object_ == nullptr) return;
    model_.Kfree(object_);
    model_.reserves().Uncharge(node_, charged_);
    object_ = nullptr;
  }
  void Teardown() {
    // A leaked charge makes the shrink fail (usage > 0); the pristine check
    // then names the leak.
    if (model_.reserves().KmallocSet(node_, 0) == ReserveStatus::kOk) {
      model_.reserves().Destroy(node_);
    }
  }

 private:
  Model& model_;
  ReserveId node_ = kNoReserve;
  void* object_ = nullptr;
  uint64_t charged_ = 0;
};

// Runs the leaky user once; returns the bug report, or "" when clean.
std::string RunLeakyUser(FaultInjector* injector) {
  Model model(SmallModel());
  model.SetFaultHook(injector);
  std::string report;
  try {
    LeakyReserveUser user(model);
    {
      ScopedFaultSuspension setup(injector);  // only the user's work may fail
      if (!user.Setup()) return "setup failed";
    }
    user.Acquire(128);
    user.Release();
    user.Teardown();
    model.CheckPristine();
  } catch (const BugReported& bug) {
    report = bug.line;
  }
  model.SetFaultHook(nullptr);
  return report;
}

TEST(ModelIntegrationTest, LeakyUserIsCleanWithoutInjection) {
  ReportsThrow reports;
  EXPECT_EQ(RunLeakyUser(nullptr), "");
  FaultInjector quiet(Systematic());  // installed but never failing
  EXPECT_EQ(RunLeakyUser(&quiet), "");
}

TEST(ModelIntegrationTest, LeakyUserIsCaughtWhenItsAllocationFails) {
  ReportsThrow reports;
  // failslab fails the first kmalloc object allocation (and only that).
  absl::StatusOr<FaultConfig> config = ParseFaultConfig(
      "verbose=0;failslab=1,100,0,1;failslab.ignore-gfp-wait=0;"
      "failslab.require-caller=kmalloc");
  ASSERT_TRUE(config.ok()) << config.status();
  FaultInjector injector(*config);
  const std::string report = RunLeakyUser(&injector);
  // The leak shows on the user's node and on every ancestor; the model
  // names the first it finds.
  EXPECT_NE(report.find("RESERVOIR DETAIL: reserve '"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("' still has 128 bytes charged"), std::string::npos)
      << report;
  ASSERT_EQ(injector.log().size(), 1u);
  EXPECT_EQ(injector.log().entry(0).site, FaultSite::kSlabObject);
  EXPECT_STREQ(injector.log().entry(0).call_site, "kmalloc");
}

TEST(ModelIntegrationTest, FailNthWalkFindsTheLeakOnlyWhereTheAllocationFails) {
  ReportsThrow reports;
  FaultInjector injector(Systematic());
  std::vector<uint64_t> leaking, clean;
  const FailNthWalk walk = EnumerateFailNth(injector, [&](uint64_t nth) {
    const std::string report = RunLeakyUser(&injector);
    if (!injector.fail_nth_fired()) return;
    const FaultLogEntry& failed = *injector.log().newest();
    const bool allocation = failed.site != FaultSite::kReserveCharge;
    if (!report.empty()) {
      leaking.push_back(nth);
      EXPECT_TRUE(allocation) << "fail-nth=" << nth << " leaked after failing "
                              << SiteConfigName(failed.site) << ": " << report;
      EXPECT_NE(report.find("reserve-leak"), std::string::npos) << report;
    } else {
      clean.push_back(nth);
      // Failing the charge itself is handled correctly by the user.
      EXPECT_FALSE(allocation)
          << "fail-nth=" << nth << " failed " << SiteConfigName(failed.site)
          << " without a report";
    }
  });
  EXPECT_GE(walk.failures_injected, 2u);
  EXPECT_FALSE(leaking.empty());
  EXPECT_EQ(clean, std::vector<uint64_t>{1});  // call 1 is the charge
}

TEST(ModelIntegrationDeathTest,
     TheBugReportNamesTheInjectedFailureAndItsReplayLine) {
  absl::StatusOr<FaultConfig> config = ParseFaultConfig(
      "seed=5;verbose=0;fail-nth=2;fail_page_alloc.min-order=0;"
      "fail_page_alloc.ignore-gfp-wait=0;failslab.ignore-gfp-wait=0;"
      "failslab_new_slab.ignore-gfp-wait=0");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_DEATH(
      {
        FaultInjector injector(*config);
        RunLeakyUser(&injector);
      },
      "RESERVOIR BUG: reserve-leak: model.pristine_reserve_usage\n"
      "RESERVOIR DETAIL: reserve '[a-z]+' still has 128 bytes "
      "charged"
      "(.|\n)*injected: failslab call 1 \\(context call 2, fail-nth\\)"
      "(.|\n)*fault config: seed=5;fail-nth=2;fail_page_alloc=1,0,0,1;"
      "fail_page_alloc.verbose=0;fail_page_alloc.min-order=0;"
      "fail_page_alloc.ignore-gfp-wait=0;");
}

}  // namespace
}  // namespace reservoir::injectors
