#include "reservoir/injectors/probability.h"

#include <string>

#include "gtest/gtest.h"

namespace reservoir::injectors {
namespace {

uint32_t ParsedBillionths(const std::string& text) {
  absl::StatusOr<Probability> p = Probability::Parse(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status();
  return p.ok() ? p->billionths() : 0xffffffffu;
}

TEST(ProbabilityTest, WholeNumbersArePercent) {
  EXPECT_EQ(ParsedBillionths("0"), 0u);
  EXPECT_EQ(ParsedBillionths("5"), 50'000'000u);
  EXPECT_EQ(ParsedBillionths("007"), 70'000'000u);
  EXPECT_EQ(ParsedBillionths("100"), 1'000'000'000u);
}

TEST(ProbabilityTest, DecimalsGoDownToTenToTheMinusSevenPercent) {
  EXPECT_EQ(ParsedBillionths("0.125"), 1'250'000u);
  EXPECT_EQ(ParsedBillionths("0.0000001"), 1u);
  EXPECT_EQ(ParsedBillionths("99.9999999"), 999'999'999u);
  EXPECT_EQ(ParsedBillionths("100.0000000"), 1'000'000'000u);
  EXPECT_EQ(ParsedBillionths("12.5"), 125'000'000u);
}

TEST(ProbabilityTest, RejectsEverythingElse) {
  for (const char* bad :
       {"", "abc", "-1", "+5", "5.", ".5", "101", "100.0000001", "1000",
        "0.00000001", "5%", "5 ", " 5", "1e3", "0x10", "1,5",
        "99999999999999999999999", "5..0"}) {
    absl::StatusOr<Probability> p = Probability::Parse(bad);
    EXPECT_FALSE(p.ok()) << "accepted \"" << bad << "\"";
    if (!p.ok()) {
      EXPECT_EQ(std::string(p.status().message()).find('\n'),
                std::string::npos);
    }
  }
}

TEST(ProbabilityTest, PrintsTheShortestTextThatReadsBack) {
  EXPECT_EQ(Probability::Percent(5).ToString(), "5");
  EXPECT_EQ(Probability::FromBillionths(1'250'000).ToString(), "0.125");
  EXPECT_EQ(Probability::FromBillionths(1).ToString(), "0.0000001");
  EXPECT_EQ(Probability::Percent(100).ToString(), "100");
  EXPECT_EQ(Probability().ToString(), "0");
  for (uint32_t b : {0u, 1u, 9u, 10u, 999u, 1'250'000u, 10'000'000u,
                     123'456'789u, 999'999'999u, 1'000'000'000u}) {
    const Probability p = Probability::FromBillionths(b);
    absl::StatusOr<Probability> back = Probability::Parse(p.ToString());
    ASSERT_TRUE(back.ok()) << p.ToString();
    EXPECT_EQ(*back, p) << p.ToString();
  }
}

TEST(ProbabilityTest, ZeroNeverFailsAndHundredAlwaysFails) {
  for (uint32_t draw : {0u, 1u, 500'000'000u, Probability::kScale - 1}) {
    EXPECT_FALSE(Probability().Fails(draw));
    EXPECT_TRUE(Probability::Percent(100).Fails(draw));
  }
  // 10%: draws 0 .. 99'999'999 fail, as the kernel's "probability > draw".
  EXPECT_TRUE(Probability::Percent(10).Fails(99'999'999));
  EXPECT_FALSE(Probability::Percent(10).Fails(100'000'000));
}

TEST(ProbabilityTest, ConstructorsClampAtHundredPercent) {
  EXPECT_EQ(Probability::Percent(250).billionths(), Probability::kScale);
  EXPECT_EQ(Probability::FromBillionths(2'000'000'000).billionths(),
            Probability::kScale);
}

}  // namespace
}  // namespace reservoir::injectors
