// The input-driven mode: decisions from bytes or from a FuzzedDataProvider.
#include "reservoir/injectors/decision_source.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <vector>

#include "fault_calls.h"
#include "gtest/gtest.h"
#include "reservoir/injectors/fault_config_syntax.h"
#include "reservoir/injectors/fault_injector.h"

namespace reservoir::injectors {
namespace {

using testing::PageCall;
using testing::SlabObjectCall;

std::vector<bool> Decisions(DecisionSource& source, int count) {
  std::vector<bool> decisions;
  for (int i = 0; i < count; ++i)
    decisions.push_back(source.NextDecision(FaultCall()));
  return decisions;
}

FaultConfig Config(const char* text) {
  absl::StatusOr<FaultConfig> config = ParseFaultConfig(text);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : FaultConfig();
}

TEST(InputDecisionsTest, OneBitPerDecisionLowBitFirstThenNo) {
  const uint8_t bytes[] = {0b0000'0101, 0x80};
  InputDecisions source(bytes);
  EXPECT_EQ(source.capacity(), 16u);
  EXPECT_EQ(Decisions(source, 20),
            (std::vector<bool>{1, 0, 1, 0, 0, 0, 0, 0,  //
                               0, 0, 0, 0, 0, 0, 0, 1,  //
                               0, 0, 0, 0}));
  EXPECT_EQ(source.consumed(), 20u);
  EXPECT_TRUE(source.exhausted());
}

TEST(InputDecisionsTest, OneBytePerDecisionReadsTheLowBit) {
  const uint8_t bytes[] = {1, 2, 3, 0xfe};
  InputDecisions source(bytes, InputDecisions::Encoding::kBytePerDecision);
  EXPECT_EQ(Decisions(source, 6), (std::vector<bool>{1, 0, 1, 0, 0, 0}));
}

TEST(InputDecisionsTest, EmptyInputNeverFailsAndResetStartsOver) {
  InputDecisions source;
  EXPECT_EQ(Decisions(source, 3), (std::vector<bool>{0, 0, 0}));
  const uint8_t bytes[] = {0xff};
  source.Reset(bytes);
  EXPECT_EQ(source.consumed(), 0u);
  EXPECT_EQ(Decisions(source, 2), (std::vector<bool>{1, 1}));
}

TEST(InputModeTest, TheInputDecidesEachCallThatReachesTheDraw) {
  // Probability 0 does not switch an input-mode site off: the input is the
  // draw. Bits 0b1010: calls 2 and 4 fail; after 8 calls the input is
  // exhausted and nothing more fails.
  FaultInjector injector(
      Config("verbose=0;failslab=1,0,0,-1;failslab.mode=input"));
  const uint8_t bytes[] = {0b1010};
  InputDecisions source(bytes);
  injector.set_decision_source(&source);
  std::vector<int> failing;
  for (int call = 1; call <= 20; ++call) {
    if (injector.ShouldFail(SlabObjectCall("c", 8))) failing.push_back(call);
  }
  EXPECT_EQ(failing, (std::vector<int>{2, 4}));
  EXPECT_EQ(source.consumed(), 20u);
  for (size_t i = 0; i < injector.log().size(); ++i) {
    EXPECT_EQ(injector.log().entry(i).cause, FaultCause::kInput);
  }
}

TEST(InputModeTest, OnlyCallsThatReachTheDrawConsumeInput) {
  // interval 2: only calls 2, 4, 6 ... reach the draw; filtered calls
  // (GFP_KERNEL) never get that far either.
  FaultInjector injector(
      Config("verbose=0;failslab=2,0,0,-1;failslab.mode=input"));
  const uint8_t bytes[] = {0b01};  // decision 1 = fail, decision 2 = pass
  InputDecisions source(bytes);
  injector.set_decision_source(&source);
  EXPECT_FALSE(injector.ShouldFail(SlabObjectCall("c", 8)));  // count 1
  EXPECT_FALSE(
      injector.ShouldFail(SlabObjectCall("c", 8, kGfpKernel)));  // filtered
  EXPECT_EQ(source.consumed(), 0u);
  EXPECT_TRUE(injector.ShouldFail(SlabObjectCall("c", 8)));   // count 2, bit 0
  EXPECT_FALSE(injector.ShouldFail(SlabObjectCall("c", 8)));  // count 3
  EXPECT_FALSE(injector.ShouldFail(SlabObjectCall("c", 8)));  // count 4, bit 1
  EXPECT_EQ(source.consumed(), 2u);
}

TEST(InputModeTest, TimesStillLimitsInputFailures) {
  FaultInjector injector(
      Config("verbose=0;failslab=1,0,0,2;failslab.mode=input"));
  const uint8_t bytes[] = {0xff};
  InputDecisions source(bytes);
  injector.set_decision_source(&source);
  int failures = 0;
  for (int i = 0; i < 8; ++i)
    failures += injector.ShouldFail(SlabObjectCall("c", 8));
  EXPECT_EQ(failures, 2);
}

TEST(InputModeTest, NoSourceMeansNoFailure) {
  FaultInjector injector(Config("verbose=0;mode=input;failslab.times=-1"));
  for (int i = 0; i < 10; ++i)
    EXPECT_FALSE(injector.ShouldFail(SlabObjectCall("c", 8)));
}

TEST(InputModeTest, CombinesWithFailNthAndWithRandomSites) {
  // fail-nth=2 holds call 1 (no input consumed), fails call 2 (no input
  // consumed), then the input decides; the page site stays in random mode
  // at 100% and keeps failing on its own.
  FaultInjector injector(
      Config("verbose=0;fail-nth=2;failslab=1,0,0,-1;failslab.mode=input;"
             "fail_page_alloc=1,100,0,-1"));
  const uint8_t bytes[] = {0b10};
  InputDecisions source(bytes);
  injector.set_decision_source(&source);
  EXPECT_FALSE(injector.ShouldFail(SlabObjectCall("c", 8)));  // held
  EXPECT_TRUE(injector.ShouldFail(SlabObjectCall("c", 8)));   // fail-nth
  EXPECT_EQ(source.consumed(), 0u);
  EXPECT_FALSE(injector.ShouldFail(SlabObjectCall("c", 8)));  // bit 0
  EXPECT_TRUE(injector.ShouldFail(PageCall(1)));              // random, 100%
  EXPECT_TRUE(injector.ShouldFail(SlabObjectCall("c", 8)));   // bit 1
  EXPECT_EQ(source.consumed(), 2u);
  EXPECT_EQ(injector.log().entry(0).cause, FaultCause::kFailNth);
  EXPECT_EQ(injector.log().entry(1).cause, FaultCause::kRandom);
  EXPECT_EQ(injector.log().entry(2).cause, FaultCause::kInput);
}

TEST(InputModeTest, ReplaysWithTheSameBytes) {
  FaultInjector injector(Config("verbose=0;mode=input;times=-1"));
  const uint8_t bytes[] = {0x5a, 0x3c};
  InputDecisions source(bytes);
  injector.set_decision_source(&source);
  auto run = [&] {
    std::vector<bool> failed;
    for (int i = 0; i < 16; ++i)
      failed.push_back(injector.ShouldFail(SlabObjectCall("c", 8)));
    return failed;
  };
  const std::vector<bool> first = run();
  injector.Reset();
  source.Reset(bytes);
  EXPECT_EQ(run(), first);
}

TEST(CallbackDecisionsTest, WorksWithFuzzedDataProvider) {
  // A fuzz target splits its input: the program from the front, the fault
  // decisions through ConsumeBool() from the back (FuzzedDataProvider reads
  // integers from the end). Once empty, ConsumeBool() says false.
  const uint8_t data[] = {0x42, 0x00, 0x01, 0x01};
  FuzzedDataProvider provider(data, sizeof(data));
  EXPECT_EQ(provider.ConsumeBytes<uint8_t>(1), std::vector<uint8_t>{0x42});
  CallbackDecisions source(
      [](void* arg, const FaultCall&) {
        return static_cast<FuzzedDataProvider*>(arg)->ConsumeBool();
      },
      &provider);
  FaultInjector injector(
      Config("verbose=0;failslab=1,0,0,-1;failslab.mode=input"));
  injector.set_decision_source(&source);
  std::vector<bool> failed;
  for (int i = 0; i < 5; ++i)
    failed.push_back(injector.ShouldFail(SlabObjectCall("c", 8)));
  EXPECT_EQ(failed, (std::vector<bool>{true, true, false, false, false}));
}

TEST(CallbackDecisionsTest, SeesTheCall) {
  CallbackDecisions source(
      [](void*, const FaultCall& call) {
        return call.site == FaultSite::kPageAlloc;
      },
      nullptr);
  FaultInjector injector(Config("verbose=0;mode=input;times=-1"));
  injector.set_decision_source(&source);
  EXPECT_TRUE(injector.ShouldFail(PageCall(1)));
  EXPECT_FALSE(injector.ShouldFail(SlabObjectCall("c", 8)));
}

}  // namespace
}  // namespace reservoir::injectors
