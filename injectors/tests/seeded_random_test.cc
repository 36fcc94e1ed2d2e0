#include "reservoir/injectors/seeded_random.h"

#include "gtest/gtest.h"

namespace reservoir::injectors {
namespace {

TEST(SeededRandomTest, MatchesThePublishedSplitMix64Outputs) {
  // Known answers of SplitMix64 (Steele, Lea and Flood), seeds 0 and 1234567.
  SeededRandom zero(0);
  EXPECT_EQ(zero.Next(), 0xe220a8397b1dcdafull);
  SeededRandom seeded(1234567);
  EXPECT_EQ(seeded.Next(), 6457827717110365317ull);
  EXPECT_EQ(seeded.Next(), 3203168211198807973ull);
  EXPECT_EQ(seeded.Next(), 9817491932198370423ull);
  EXPECT_EQ(seeded.Next(), 4593380528125082431ull);
  EXPECT_EQ(seeded.Next(), 16408922859458223821ull);
}

TEST(SeededRandomTest, BelowStaysBelowTheBound) {
  SeededRandom random(9);
  for (int i = 0; i < 10000; ++i)
    EXPECT_LT(random.Below(1'000'000'000), 1'000'000'000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(random.Below(1), 0u);
}

TEST(SeededRandomTest, StreamsOfOneSeedDifferAndAreStable) {
  EXPECT_NE(SeededRandom::StreamSeed(7, 0), SeededRandom::StreamSeed(7, 1));
  EXPECT_NE(SeededRandom::StreamSeed(7, 0), SeededRandom::StreamSeed(8, 0));
  EXPECT_EQ(SeededRandom::StreamSeed(7, 3), SeededRandom::StreamSeed(7, 3));
}

}  // namespace
}  // namespace reservoir::injectors
