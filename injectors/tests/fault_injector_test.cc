#include "reservoir/injectors/fault_injector.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fault_calls.h"
#include "gtest/gtest.h"
#include "reservoir/injectors/fault_config_syntax.h"
#include "reservoir/report.h"

namespace reservoir::injectors {
namespace {

using testing::ChargeCall;
using testing::NewSlabCall;
using testing::PageCall;
using testing::ReserveSetCall;
using testing::SlabObjectCall;

FaultConfig Config(const std::string& text) {
  absl::StatusOr<FaultConfig> config = ParseFaultConfig(text);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : FaultConfig();
}

// Text written to a FILE by `print`.
template <typename Print>
std::string Captured(Print print) {
  char* buffer = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&buffer, &size);
  print(out);
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  return text;
}

// A mixed stream of calls at every site; returns which ones failed.
std::vector<bool> RunMixedCalls(FaultInjector& injector, int rounds) {
  std::vector<bool> failed;
  for (int i = 0; i < rounds; ++i) {
    failed.push_back(injector.ShouldFail(PageCall(1 + i % 3)));
    failed.push_back(injector.ShouldFail(SlabObjectCall("kmalloc-96", 96)));
    failed.push_back(injector.ShouldFail(NewSlabCall("kmalloc-96", 0)));
    failed.push_back(injector.ShouldFail(ChargeCall("net", 96)));
    failed.push_back(injector.ShouldFail(ReserveSetCall("net", 4096)));
  }
  return failed;
}

constexpr char kRandomEverywhere[] =
    "seed=17;verbose=0;times=-1;probability=30";

TEST(FaultInjectorTest, DefaultConfigNeverFails) {
  FaultInjector injector;
  for (bool failed : RunMixedCalls(injector, 50)) EXPECT_FALSE(failed);
  EXPECT_EQ(injector.injected(), 0u);
}

TEST(FaultInjectorTest, EachSiteFollowsItsOwnPolicy) {
  FaultInjector injector(
      Config("verbose=0;fail_page_alloc=1,100,0,-1;"
             "fail_reserve_set=2,100,0,-1"));
  EXPECT_TRUE(injector.ShouldFail(PageCall(1)));
  EXPECT_FALSE(injector.ShouldFail(SlabObjectCall("c", 8)));
  EXPECT_FALSE(injector.ShouldFail(NewSlabCall("c", 0)));
  EXPECT_FALSE(injector.ShouldFail(ChargeCall("r", 1)));
  EXPECT_FALSE(injector.ShouldFail(ReserveSetCall("r", 1)));
  EXPECT_TRUE(injector.ShouldFail(ReserveSetCall("r", 1)));
  EXPECT_EQ(injector.site_calls(FaultSite::kReserveSet), 2u);
  EXPECT_EQ(injector.context_calls(), 6u);
}

TEST(FaultInjectorTest, UnknownSiteNeverFails) {
  FaultInjector injector(Config("verbose=0;probability=100;times=-1"));
  FaultCall call = PageCall(1);
  call.site = FaultSite::kCount;
  EXPECT_FALSE(injector.ShouldFail(call));
  EXPECT_EQ(injector.context_calls(), 0u);
}

TEST(FaultInjectorTest, ResetReplaysTheSameSchedule) {
  FaultInjector injector(Config(std::string(kRandomEverywhere) +
                                ";failslab.times=5;fail_page_alloc.space=6"));
  const std::vector<bool> first = RunMixedCalls(injector, 40);
  const uint64_t first_injected = injector.injected();
  EXPECT_GT(first_injected, 0u);
  injector.Reset();
  EXPECT_EQ(injector.injected(), 0u);
  EXPECT_EQ(injector.context_calls(), 0u);
  EXPECT_EQ(RunMixedCalls(injector, 40), first);
  EXPECT_EQ(injector.injected(), first_injected);
  // A second injector with the same configuration agrees too.
  FaultInjector twin(injector.config());
  EXPECT_EQ(RunMixedCalls(twin, 40), first);
}

TEST(FaultInjectorTest, TheSeedChangesTheSchedule) {
  FaultInjector injector(Config(kRandomEverywhere));
  const std::vector<bool> first = RunMixedCalls(injector, 40);
  injector.SetSeed(18);
  EXPECT_NE(RunMixedCalls(injector, 40), first);
  injector.SetSeed(17);
  EXPECT_EQ(RunMixedCalls(injector, 40), first);
}

TEST(FaultInjectorTest, SitesDrawFromIndependentStreams) {
  // Arming failslab does not move fail_page_alloc's schedule.
  FaultInjector page_only(Config("seed=5;verbose=0;fail_page_alloc=1,40,0,-1"));
  FaultInjector both(
      Config("seed=5;verbose=0;fail_page_alloc=1,40,0,-1;failslab=1,40,0,-1"));
  for (int i = 0; i < 200; ++i) {
    both.ShouldFail(SlabObjectCall("c", 8));
    EXPECT_EQ(page_only.ShouldFail(PageCall(1)), both.ShouldFail(PageCall(1)))
        << i;
  }
}

TEST(FaultInjectorTest, SitesOfOneSeedDrawDifferentSchedules) {
  FaultInjector injector(Config("seed=5;verbose=0;times=-1;probability=50"));
  std::vector<bool> page, slab;
  for (int i = 0; i < 64; ++i) {
    page.push_back(injector.ShouldFail(PageCall(1)));
    slab.push_back(injector.ShouldFail(SlabObjectCall("c", 8)));
  }
  EXPECT_NE(page, slab);
}

TEST(FaultInjectorTest, SuspensionPassesEverythingAndCountsNothingElse) {
  FaultInjector injector(
      Config("verbose=0;fail-nth=2;probability=100;times=-1"));
  {
    ScopedFaultSuspension outer(&injector);
    {
      ScopedFaultSuspension inner(&injector);
      EXPECT_FALSE(injector.ShouldFail(PageCall(1)));
    }
    EXPECT_TRUE(injector.suspended());
    EXPECT_FALSE(injector.ShouldFail(SlabObjectCall("c", 8)));
  }
  EXPECT_FALSE(injector.suspended());
  EXPECT_EQ(injector.context_calls(), 0u);
  EXPECT_EQ(injector.fail_nth_remaining(), 2u);
  EXPECT_EQ(injector.statistics().site(FaultSite::kPageAlloc).suspended, 1u);
  EXPECT_EQ(injector.statistics().site(FaultSite::kSlabObject).suspended, 1u);
  // Injection is back: call 1 is held by fail-nth, call 2 fails.
  EXPECT_FALSE(injector.ShouldFail(PageCall(1)));
  EXPECT_TRUE(injector.ShouldFail(PageCall(1)));
  ScopedFaultSuspension no_injector(nullptr);  // allowed, does nothing
}

TEST(FaultInjectorTest, StatisticsSurviveResetUntilCleared) {
  FaultInjector injector(Config("verbose=0;fail_page_alloc=2,100,0,-1"));
  injector.ShouldFail(PageCall(1));
  injector.ShouldFail(PageCall(1));  // injected
  injector.ShouldFail(PageCall(0));  // filtered
  injector.Reset();
  injector.ShouldFail(PageCall(1));
  const SiteStatistics expected{
      .eligible = 3, .filtered = 1, .injected = 1, .suspended = 0};
  EXPECT_EQ(injector.statistics().site(FaultSite::kPageAlloc), expected);
  EXPECT_EQ(injector.statistics().ToJson(),
            "{\"fault_statistics\":{"
            "\"fail_page_alloc\":{\"eligible\":3,\"filtered\":1,\"injected\":1,"
            "\"suspended\":0},"
            "\"failslab_new_slab\":{\"eligible\":0,\"filtered\":0,\"injected\":"
            "0,\"suspended\":0},"
            "\"failslab\":{\"eligible\":0,\"filtered\":0,\"injected\":0,"
            "\"suspended\":0},"
            "\"fail_reserve_charge\":{\"eligible\":0,\"filtered\":0,"
            "\"injected\":0,\"suspended\":0},"
            "\"fail_reserve_set\":{\"eligible\":0,\"filtered\":0,\"injected\":"
            "0,\"suspended\":0}}}");
  const std::string printed =
      Captured([&](FILE* out) { injector.PrintStatistics(out); });
  EXPECT_NE(printed.find("fault site"), std::string::npos) << printed;
  EXPECT_NE(printed.find("fail_page_alloc                 3            1       "
                         "     1            0"),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find("total"), std::string::npos);
  EXPECT_NE(printed.find(injector.statistics().ToJson() + "\n"),
            std::string::npos);
  injector.ClearStatistics();
  EXPECT_EQ(injector.statistics().site(FaultSite::kPageAlloc),
            SiteStatistics());
}

TEST(FaultInjectorTest, VerboseNoticesFollowTheKernelLevels) {
  const FaultCall call = PageCall(1, kGfpAtomic, "alloc_pages");
  auto notice = [&](const std::string& config, const FaultCall& c) {
    FaultInjector injector(Config(config));
    return Captured([&](FILE* out) {
      injector.set_verbose_output(out);
      EXPECT_TRUE(injector.ShouldFail(c));
    });
  };
  EXPECT_EQ(notice("fail_page_alloc=1,100,0,-1;verbose=0", call), "");
  const std::string one = notice("fail_page_alloc=1,100,0,-1;verbose=1", call);
  EXPECT_EQ(one,
            "FAULT_INJECTION: forcing a failure.\n"
            "site fail_page_alloc, mode random, interval 1, probability 100,"
            " space 0 left, times -1 left\n");
  const std::string two =
      notice("fail_page_alloc=1,100,0,3", call);  // default verbose 2
  EXPECT_EQ(two,
            "FAULT_INJECTION: forcing a failure.\n"
            "site fail_page_alloc, mode random, interval 1, probability 100,"
            " space 0 left, times 2 left\n"
            "fault: fail_page_alloc call 1 (context call 1, random): order=1"
            " size=0 gfp=0x4 cache=- reserve=- call_site=alloc_pages\n");
  // __GFP_NOWARN keeps the notice quiet, as FAULT_NOWARN does.
  EXPECT_EQ(notice("fail_page_alloc=1,100,0,-1",
                   PageCall(1, kGfpAtomic | kGfpNoWarn)),
            "");
}

TEST(FaultInjectorTest, ReportSectionNamesTheFailuresAndTheReplayLine) {
  FaultInjector injector(Config("seed=4;verbose=0;failslab=3,100,0,-1"));
  const std::string quiet =
      Captured([&](FILE* out) { injector.PrintReportSection(out); });
  EXPECT_NE(quiet.find("fault injection: no failure injected since reset"),
            std::string::npos)
      << quiet;
  for (int i = 0; i < 6; ++i)
    injector.ShouldFail(SlabObjectCall("kmalloc-64", 64));
  const std::string report =
      Captured([&](FILE* out) { injector.PrintReportSection(out); });
  EXPECT_NE(report.find("fault injection: 2 failure(s) injected since reset"
                        " (0 oldest dropped from the log)"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("  injected: failslab call 3 (context call 3, random)"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("  injected: failslab call 6 "), std::string::npos)
      << report;
  const std::string prefix = "fault config: ";
  const size_t at = report.find(prefix);
  ASSERT_NE(at, std::string::npos) << report;
  const std::string line = report.substr(
      at + prefix.size(), report.find('\n', at) - at - prefix.size());
  EXPECT_EQ(line, injector.ConfigLine());
  EXPECT_EQ(Config(line), injector.config());
}

TEST(FaultInjectorTest, TheReportLineReplaysTheSameFailures) {
  FaultInjector original(Config(
      "seed=99;verbose=0;times=-1;probability=25;fail_page_alloc.min-order=0;"
      "failslab.interval=2;fail_reserve_charge.space=300"));
  const std::vector<bool> failed = RunMixedCalls(original, 60);
  FaultInjector replay(Config(original.ConfigLine()));
  EXPECT_EQ(RunMixedCalls(replay, 60), failed);
}

TEST(FaultInjectorDeathTest, EveryBugReportCarriesTheSection) {
  FaultInjector injector(Config("seed=3;verbose=0;fail_page_alloc=1,100,0,-1"));
  EXPECT_TRUE(injector.report_section_registered());
  injector.ShouldFail(PageCall(2));
  EXPECT_DEATH(
      ReportBug(BugClass::kReserveLeak, "test.injector_section", "test"),
      "RESERVOIR BUG: reserve-leak: [a-z0-9_./-]+\nRESERVOIR DETAIL: test\n"
      "(.|\n)*injected: fail_page_alloc call 1 \\(context call 1, random\\)"
      "(.|\n)*fault config: seed=3;fail-nth=0;fail_page_alloc=1,100,0,-1;");
}

TEST(FaultInjectorDeathTest, ADestroyedInjectorLeavesNoSection) {
  { FaultInjector gone(Config("seed=12345")); }
  EXPECT_DEATH(
      ReportBug(BugClass::kReserveLeak, "test.no_section", "after"),
      "RESERVOIR BUG: reserve-leak: [a-z0-9_./-]+\nRESERVOIR DETAIL: after\nEND OF RESERVOIR BUG REPORT");
}

}  // namespace
}  // namespace reservoir::injectors
