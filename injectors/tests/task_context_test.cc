// Task and interrupt context in fault decisions, after lib/fault-inject.c:
//   - should_fail_ex() reads current->fail_nth only when in_task(); a call in
//     interrupt context neither counts the countdown down nor fires it, and
//     is decided by the attribute's own knobs (fail-nth-task-only=1 here;
//     off by default, when every eligible call counts);
//   - the task filter (task-filter, fail_task(): in_task() && make_it_fail)
//     comes right after the probability-0 test and before times, space,
//     interval and the draw, so a filtered call spends none of them.
// And the model's side: every fault site reports the request's context.
#include <vector>

#include "fault_calls.h"
#include "gtest/gtest.h"
#include "reservoir/injectors/fault_attr.h"
#include "reservoir/injectors/fault_config_syntax.h"
#include "reservoir/injectors/fault_injector.h"
#include "reservoir/model.h"

namespace reservoir::injectors {
namespace {

class AttrHarness {
 public:
  FaultAttrConfig config;
  FaultAttrState state;
  FailNthCountdown context;

  void Reset(uint64_t fail_nth = 0, bool task_only = false) {
    state.Reset(config, 1);
    context.Arm(fail_nth);
    context.set_task_only(task_only);
  }

  FaultCause Call(bool in_softirq, uint64_t size = 1) {
    FaultCall call;
    call.site = FaultSite::kSlabObject;
    call.size = size;
    call.call_site = "kmalloc";
    call.in_softirq = in_softirq;
    return ShouldFailEx(config, state, context, size, call, nullptr);
  }
};

constexpr bool kTask = false;
constexpr bool kSoftirq = true;

AttrHarness Always(bool task_filter) {
  AttrHarness h;
  h.config.probability = Probability::Percent(100);
  h.config.times = kUnlimitedTimes;
  h.config.task_filter = task_filter;
  h.Reset();
  return h;
}

TEST(TaskContextTest, DefaultsFailInEveryContext) {
  AttrHarness h = Always(false);
  EXPECT_FALSE(h.config.task_filter);
  EXPECT_EQ(h.Call(kSoftirq), FaultCause::kRandom);
  EXPECT_EQ(h.Call(kTask), FaultCause::kRandom);
}

TEST(TaskContextTest, TaskFilterLetsSoftirqCallsPass) {
  AttrHarness h = Always(true);
  EXPECT_EQ(h.Call(kSoftirq), FaultCause::kNone);
  EXPECT_EQ(h.Call(kTask), FaultCause::kRandom);
  EXPECT_EQ(h.Call(kSoftirq), FaultCause::kNone);
}

TEST(TaskContextTest, FilteredCallsSpendNoTimes) {
  AttrHarness h = Always(true);
  h.config.times = 1;
  h.Reset();
  EXPECT_EQ(h.Call(kSoftirq), FaultCause::kNone);
  EXPECT_EQ(h.Call(kTask), FaultCause::kRandom);  // the one time is left
  EXPECT_EQ(h.Call(kTask), FaultCause::kNone);    // now spent
}

TEST(TaskContextTest, FilteredCallsSpendNoSpace) {
  AttrHarness h = Always(true);
  h.config.space = 10;
  h.Reset();
  EXPECT_EQ(h.Call(kSoftirq, 100), FaultCause::kNone);
  EXPECT_EQ(h.state.space, 10u);
  EXPECT_EQ(h.Call(kTask, 4), FaultCause::kNone);  // space 10 > 4: spent
  EXPECT_EQ(h.state.space, 6u);
}

TEST(TaskContextTest, FilteredCallsTakeNoIntervalCountAndNoDraw) {
  // Interval 2: the task calls alone are counted, so every second *task*
  // call fails however many softirq calls come between.
  AttrHarness h = Always(true);
  h.config.interval = 2;
  h.Reset();
  std::vector<int> failing;
  for (int i = 1; i <= 6; ++i) {
    EXPECT_EQ(h.Call(kSoftirq), FaultCause::kNone);
    if (h.Call(kTask) != FaultCause::kNone) failing.push_back(i);
  }
  EXPECT_EQ(failing, (std::vector<int>{2, 4, 6}));
  EXPECT_EQ(h.state.count, 6u);

  // A probability of 50%: the task calls' draws are the same sequence with
  // and without softirq calls in between.
  AttrHarness a, b;
  for (AttrHarness* x : {&a, &b}) {
    x->config.probability = Probability::Percent(50);
    x->config.times = kUnlimitedTimes;
    x->config.task_filter = true;
    x->Reset();
  }
  for (int i = 0; i < 64; ++i) {
    b.Call(kSoftirq);
    EXPECT_EQ(a.Call(kTask), b.Call(kTask)) << "task call " << i;
  }
}

TEST(TaskContextTest, ProbabilityZeroComesFirst) {
  AttrHarness h;  // probability 0: nothing fails in any context
  h.config.task_filter = true;
  h.Reset();
  EXPECT_EQ(h.Call(kSoftirq), FaultCause::kNone);
  EXPECT_EQ(h.Call(kTask), FaultCause::kNone);
}

TEST(TaskContextTest, FailNthCountsEveryContextByDefault) {
  AttrHarness h;
  h.Reset(/*fail_nth=*/2);
  EXPECT_EQ(h.Call(kTask), FaultCause::kNone);
  EXPECT_EQ(h.Call(kSoftirq), FaultCause::kFailNth);
  EXPECT_TRUE(h.context.fired());
}

TEST(TaskContextTest, TaskOnlyFailNthIgnoresSoftirqCalls) {
  AttrHarness h;
  h.Reset(/*fail_nth=*/2, /*task_only=*/true);
  EXPECT_EQ(h.Call(kTask), FaultCause::kNone);
  EXPECT_EQ(h.context.remaining(), 1u);
  EXPECT_EQ(h.Call(kSoftirq), FaultCause::kNone);  // not counted
  EXPECT_EQ(h.Call(kSoftirq), FaultCause::kNone);
  EXPECT_EQ(h.context.remaining(), 1u);
  EXPECT_EQ(h.Call(kTask), FaultCause::kFailNth);  // the second task call
  EXPECT_EQ(h.context.remaining(), 0u);
}

TEST(TaskContextTest, TaskOnlyFailNthLeavesSoftirqCallsToTheAttribute) {
  // In the kernel an armed fail_nth makes every other task call pass at
  // once, but a call in interrupt context never looks at it: the attribute
  // decides, and here it always fails.
  AttrHarness h = Always(false);
  h.Reset(/*fail_nth=*/3, /*task_only=*/true);
  EXPECT_EQ(h.Call(kTask), FaultCause::kNone);       // held by fail_nth
  EXPECT_EQ(h.Call(kSoftirq), FaultCause::kRandom);  // the attribute's
  EXPECT_EQ(h.context.remaining(), 2u);
}

TEST(TaskContextTest, SyntaxReadsAndPrintsBothKnobs) {
  absl::StatusOr<FaultConfig> config =
      ParseFaultConfig("fail-nth-task-only=1;failslab.task-filter=y");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->fail_nth_task_only);
  EXPECT_TRUE(config->site(FaultSite::kSlabObject).attr.task_filter);
  EXPECT_FALSE(config->site(FaultSite::kPageAlloc).attr.task_filter);
  const std::string line = FormatFaultConfig(*config);
  EXPECT_NE(line.find(";fail-nth-task-only=1"), std::string::npos) << line;
  EXPECT_NE(line.find(";failslab.task-filter=1"), std::string::npos) << line;
  absl::StatusOr<FaultConfig> again = ParseFaultConfig(line);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *config);

  // The generic form sets every site; the defaults print neither knob, so
  // the line of every older configuration is unchanged.
  config = ParseFaultConfig("task-filter=1");
  ASSERT_TRUE(config.ok()) << config.status();
  for (const SiteConfig& site : config->sites) EXPECT_TRUE(site.attr.task_filter);
  const std::string defaults = FormatFaultConfig(FaultConfig{});
  EXPECT_EQ(defaults.find("task"), std::string::npos) << defaults;
  EXPECT_FALSE(ParseFaultConfig("task-filter=2").ok());
  EXPECT_FALSE(ParseFaultConfig("fail-nth-task-only=maybe").ok());
}

TEST(TaskContextTest, InjectorAppliesTheTaskFilter) {
  absl::StatusOr<FaultConfig> config = ParseFaultConfig(
      "verbose=0;failslab=1,100,0,-1;failslab.ignore-gfp-wait=0;"
      "failslab.task-filter=1");
  ASSERT_TRUE(config.ok()) << config.status();
  FaultInjector injector(*config);
  FaultCall call = testing::SlabObjectCall("kmalloc-64", 64);
  call.in_softirq = true;
  EXPECT_FALSE(injector.ShouldFail(call));
  call.in_softirq = false;
  EXPECT_TRUE(injector.ShouldFail(call));
}

// Records the context of every call that reaches a site.
class ContextRecorder final : public FaultHook {
 public:
  struct Seen {
    FaultSite site;
    bool in_softirq;
  };
  bool ShouldFail(const FaultCall& call) override {
    seen.push_back({call.site, call.in_softirq});
    return false;
  }
  std::vector<Seen> seen;
};

TEST(TaskContextTest, EveryModelSiteReportsTheRequestsContext) {
  ModelConfig model_config;
  model_config.normal_pages = 1024;
  model_config.max_order = 7;
  Model model(model_config);
  const ReserveId node = model.reserves().Create("net", model.reserves().root());
  ASSERT_NE(node, kNoReserve);
  ASSERT_EQ(model.reserves().KmallocSet(node, 8192), ReserveStatus::kOk);
  // Pressure first, so the reserve wrapper needs its emergency path (and
  // charges) in both contexts.
  std::vector<Pfn> held;
  AllocContext plain;
  plain.gfp = kGfpAtomic | kGfpNoMemalloc;
  for (Pfn p; (p = model.AllocPages(0, plain)) != kNoPfn;) held.push_back(p);
  KmemCache* cache = model.KmemCacheCreate("ctx_cache", 40, 8);
  ASSERT_NE(cache, nullptr);

  ContextRecorder recorder;
  model.SetFaultHook(&recorder);
  for (bool softirq : {false, true}) {
    recorder.seen.clear();
    AllocContext ctx;
    ctx.gfp = kGfpAtomic | kGfpMemalloc;
    ctx.in_softirq = softirq;
    void* object = model.Kmalloc(100, ctx);       // slab_object, new slab
    void* cached = model.KmemCacheAlloc(cache, ctx);
    const Pfn page = model.AllocPages(0, ctx);    // page_alloc
    AllocContext entitled = ctx;
    entitled.gfp = kGfpAtomic;
    entitled.pf_memalloc = true;
    const ReserveGrant grant = model.KmallocReserve(3000, entitled, node);
    bool sites[kFaultSiteCount] = {};
    for (const ContextRecorder::Seen& s : recorder.seen) {
      EXPECT_EQ(s.in_softirq, softirq) << FaultSiteName(s.site);
      sites[static_cast<int>(s.site)] = true;
    }
    EXPECT_TRUE(sites[static_cast<int>(FaultSite::kPageAlloc)]);
    EXPECT_TRUE(sites[static_cast<int>(FaultSite::kSlabObject)]);
    EXPECT_TRUE(sites[static_cast<int>(FaultSite::kSlabNewSlab)]);
    EXPECT_TRUE(sites[static_cast<int>(FaultSite::kReserveCharge)]) << softirq;
    model.SetFaultHook(nullptr);
    if (grant.ok()) model.KfreeReserve(grant);
    if (page != kNoPfn) model.FreePages(page, 0);
    if (cached != nullptr) model.KmemCacheFree(cache, cached);
    if (object != nullptr) model.Kfree(object);
    model.SetFaultHook(&recorder);
  }
  model.SetFaultHook(nullptr);
  model.KmemCacheDestroy(cache);
  for (Pfn p : held) model.FreePages(p, 0);
}

}  // namespace
}  // namespace reservoir::injectors
