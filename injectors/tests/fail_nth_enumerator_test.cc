#include "reservoir/injectors/fail_nth_enumerator.h"

#include <vector>

#include "fault_calls.h"
#include "gtest/gtest.h"
#include "reservoir/injectors/fault_config_syntax.h"

namespace reservoir::injectors {
namespace {

using testing::ChargeCall;
using testing::PageCall;
using testing::SlabObjectCall;

// A fake workload: a fixed script of calls, some eligible under the
// default filters and some not. It counts the eligible ones itself, from
// the script (not from the injector), and records which call failed.
struct FakeWorkload {
  struct Step {
    FaultCall call;
    bool eligible;  // by construction, under the default filters
  };
  std::vector<Step> script = {
      {PageCall(1, kGfpAtomic), true},
      {PageCall(0, kGfpAtomic), false},  // below min-order 1
      {SlabObjectCall("c", 8), true},
      {SlabObjectCall("c", 8, kGfpKernel), false},  // may block
      {ChargeCall("net", 100), true},
      {PageCall(2, kGfpAtomic | kGfpNoFail), false},
      {SlabObjectCall("c", 8), true},
      {PageCall(3, kGfpAtomic), true},
  };
  bool stop_after_failure = false;  // an error path that returns early

  int EligibleCalls() const {
    int count = 0;
    for (const Step& step : script) count += step.eligible;
    return count;
  }

  // Runs the script; returns the index (in the script) of the failed call
  // or -1.
  int Run(FaultInjector& injector) {
    int failed = -1;
    for (size_t i = 0; i < script.size(); ++i) {
      if (injector.ShouldFail(script[i].call)) {
        EXPECT_EQ(failed, -1) << "two failures in one fail-nth run";
        failed = static_cast<int>(i);
        if (stop_after_failure) break;
      }
    }
    return failed;
  }
};

// The script index of the n-th eligible step (1-based).
int IndexOfEligible(const FakeWorkload& workload, uint64_t n) {
  for (size_t i = 0; i < workload.script.size(); ++i) {
    if (workload.script[i].eligible && --n == 0) return static_cast<int>(i);
  }
  return -1;
}

FaultConfig Quiet() { return *ParseFaultConfig("verbose=0"); }

TEST(FailNthEnumeratorTest, VisitsOneToKPlusOneForKEligibleCalls) {
  FakeWorkload workload;
  const int k = workload.EligibleCalls();
  ASSERT_EQ(k, 5);
  FaultInjector injector(Quiet());
  std::vector<uint64_t> visited;
  std::vector<int> failed_steps;
  const FailNthWalk walk = EnumerateFailNth(injector, [&](uint64_t nth) {
    visited.push_back(nth);
    failed_steps.push_back(workload.Run(injector));
  });
  std::vector<uint64_t> expected_visits;
  for (uint64_t n = 1; n <= static_cast<uint64_t>(k) + 1; ++n)
    expected_visits.push_back(n);
  EXPECT_EQ(visited, expected_visits);
  EXPECT_EQ(walk.runs, static_cast<uint64_t>(k) + 1);
  EXPECT_EQ(walk.failures_injected, static_cast<uint64_t>(k));
  EXPECT_FALSE(walk.stopped_at_limit);
  // Run N failed exactly the N-th eligible call of the script; the last run
  // failed nothing.
  for (int n = 1; n <= k; ++n)
    EXPECT_EQ(failed_steps[n - 1], IndexOfEligible(workload, n)) << n;
  EXPECT_EQ(failed_steps.back(), -1);
}

TEST(FailNthEnumeratorTest, AnErrorPathThatReturnsEarlyIsStillWalked) {
  FakeWorkload workload;
  workload.stop_after_failure = true;
  FaultInjector injector(Quiet());
  const FailNthWalk walk =
      EnumerateFailNth(injector, [&](uint64_t) { workload.Run(injector); });
  EXPECT_EQ(walk.failures_injected, 5u);
  EXPECT_EQ(walk.runs, 6u);
}

TEST(FailNthEnumeratorTest, StopsAtTheLimit) {
  FakeWorkload workload;
  FaultInjector injector(Quiet());
  const FailNthWalk walk = EnumerateFailNth(
      injector, [&](uint64_t) { workload.Run(injector); }, 3);
  EXPECT_EQ(walk.runs, 3u);
  EXPECT_EQ(walk.failures_injected, 3u);
  EXPECT_TRUE(walk.stopped_at_limit);
}

TEST(FailNthEnumeratorTest, AWorkloadWithNoEligibleCallRunsOnce) {
  FaultInjector injector(Quiet());
  const FailNthWalk walk = EnumerateFailNth(injector, [&](uint64_t) {
    injector.ShouldFail(PageCall(0));  // filtered
  });
  EXPECT_EQ(walk.runs, 1u);
  EXPECT_EQ(walk.failures_injected, 0u);
}

TEST(FailNthEnumeratorTest, RestoresTheConfiguredFailNth) {
  FaultConfig config = Quiet();
  config.fail_nth = 2;
  FaultInjector injector(config);
  FakeWorkload workload;
  EnumerateFailNth(injector, [&](uint64_t) { workload.Run(injector); });
  EXPECT_EQ(injector.config().fail_nth, 2u);
  EXPECT_EQ(injector.fail_nth_remaining(), 2u);
}

TEST(FailNthEnumeratorTest, TheReportLineOfARunNamesItsN) {
  FaultInjector injector(Quiet());
  FakeWorkload workload;
  std::vector<std::string> lines;
  EnumerateFailNth(injector, [&](uint64_t) {
    workload.Run(injector);
    lines.push_back(injector.ConfigLine());
  });
  ASSERT_GE(lines.size(), 3u);
  EXPECT_NE(lines[2].find("fail-nth=3;"), std::string::npos) << lines[2];
}

}  // namespace
}  // namespace reservoir::injectors
