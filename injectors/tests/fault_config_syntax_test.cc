#include "reservoir/injectors/fault_config_syntax.h"

#include <string>

#include "gtest/gtest.h"
#include "reservoir/injectors/seeded_random.h"

namespace reservoir::injectors {
namespace {

FaultConfig MustParse(const std::string& text) {
  absl::StatusOr<FaultConfig> config = ParseFaultConfig(text);
  EXPECT_TRUE(config.ok()) << text << ": " << config.status();
  return config.ok() ? *config : FaultConfig();
}

TEST(FaultConfigSyntaxTest, ParsesTheDocumentedExample) {
  const FaultConfig config = MustParse(
      "seed=7;fail_page_alloc=1,10,0,-1;fail_page_alloc.min-order=1;"
      "failslab.cache-filter=kmalloc-96");
  EXPECT_EQ(config.seed, 7u);
  const SiteConfig& page = config.site(FaultSite::kPageAlloc);
  EXPECT_EQ(page.attr.interval, 1u);
  EXPECT_EQ(page.attr.probability, Probability::Percent(10));
  EXPECT_EQ(page.attr.space, 0u);
  EXPECT_EQ(page.attr.times, kUnlimitedTimes);
  EXPECT_EQ(page.page_alloc.min_order, 1);
  EXPECT_EQ(config.site(FaultSite::kSlabObject).slab.cache_filter.names(),
            std::vector<std::string>{"kmalloc-96"});
  // Untouched sites keep the kernel defaults.
  EXPECT_EQ(config.site(FaultSite::kReserveSet), SiteConfig());
}

TEST(FaultConfigSyntaxTest, EveryKnob) {
  const FaultConfig config = MustParse(
      "seed=18446744073709551615;fail-nth=12;"
      "failslab.probability=0.125;failslab.interval=4;failslab.times=9;"
      "failslab.space=4096;failslab.verbose=1;failslab.mode=input;"
      "failslab.require-caller=kmalloc,kmem_cache_alloc;"
      "failslab.reject-caller=kmalloc_reserve;failslab.ignore-gfp-wait=n;"
      "fail_page_alloc.ignore-gfp-highmem=0;fail_page_alloc.min-order=10;"
      "fail_reserve_charge.reserve-filter=net,swap");
  EXPECT_EQ(config.seed, 18446744073709551615ull);
  EXPECT_EQ(config.fail_nth, 12u);
  const FaultAttrConfig& slab = config.site(FaultSite::kSlabObject).attr;
  EXPECT_EQ(slab.probability.billionths(), 1'250'000u);
  EXPECT_EQ(slab.interval, 4u);
  EXPECT_EQ(slab.times, 9);
  EXPECT_EQ(slab.space, 4096u);
  EXPECT_EQ(slab.verbose, 1);
  EXPECT_EQ(slab.mode, DecisionMode::kInput);
  EXPECT_EQ(slab.require_callers.names(),
            (std::vector<std::string>{"kmalloc", "kmem_cache_alloc"}));
  EXPECT_EQ(slab.reject_callers.names(),
            std::vector<std::string>{"kmalloc_reserve"});
  EXPECT_FALSE(config.site(FaultSite::kSlabObject).slab.ignore_gfp_wait);
  EXPECT_FALSE(
      config.site(FaultSite::kPageAlloc).page_alloc.ignore_gfp_highmem);
  EXPECT_EQ(config.site(FaultSite::kPageAlloc).page_alloc.min_order, 10);
  EXPECT_EQ(
      config.site(FaultSite::kReserveCharge).reserve.reserve_filter.names(),
      (std::vector<std::string>{"net", "swap"}));
}

TEST(FaultConfigSyntaxTest, AGenericKnobWithoutASiteSetsEverySite) {
  const FaultConfig config = MustParse(
      "verbose=0;mode=input;times=-1;probability=0.5;interval=2;space=7;"
      "reject-caller=kfree;failslab.verbose=1");
  for (int i = 0; i < kFaultSiteCount; ++i) {
    const FaultAttrConfig& attr = config.sites[i].attr;
    EXPECT_EQ(attr.mode, DecisionMode::kInput);
    EXPECT_EQ(attr.verbose, SiteAt(i) == FaultSite::kSlabObject ? 1 : 0);
    EXPECT_EQ(attr.times, kUnlimitedTimes);
    EXPECT_EQ(attr.probability.billionths(), 5'000'000u);
    EXPECT_EQ(attr.interval, 2u);
    EXPECT_EQ(attr.space, 7u);
    EXPECT_EQ(attr.reject_callers.names(), std::vector<std::string>{"kfree"});
  }
}

TEST(FaultConfigSyntaxTest, LaterEntriesOverrideEarlierOnes) {
  const FaultConfig config =
      MustParse("seed=1;seed=2;failslab=1,10,0,-1;failslab.probability=20");
  EXPECT_EQ(config.seed, 2u);
  EXPECT_EQ(config.site(FaultSite::kSlabObject).attr.probability,
            Probability::Percent(20));
}

TEST(FaultConfigSyntaxTest, SpacesAndEmptyEntriesAreHarmless) {
  EXPECT_EQ(MustParse(" seed = 3 ; ;failslab = 2, 5, 0, -1 ;\n"),
            MustParse("seed=3;failslab=2,5,0,-1"));
  EXPECT_EQ(MustParse(""), FaultConfig());
  EXPECT_EQ(MustParse(";;"), FaultConfig());
}

struct BadConfig {
  const char* text;
  const char* names;  // the message must contain this (the bad key or field)
};

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, IsRejectedWithAOneLineReasonNamingTheField) {
  const BadConfig& bad = GetParam();
  FaultConfig config;
  config.seed = 99;
  const absl::Status status = ApplyFaultConfig(bad.text, &config);
  ASSERT_FALSE(status.ok()) << "accepted: " << bad.text;
  const std::string message(status.message());
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find(bad.names), std::string::npos)
      << "message \"" << message << "\" does not name \"" << bad.names << "\"";
  FaultConfig unchanged;
  unchanged.seed = 99;
  EXPECT_EQ(config, unchanged) << "a rejected config must change nothing";
}

INSTANTIATE_TEST_SUITE_P(
    EveryForm, BadConfigTest,
    ::testing::Values(
        // Unknown keys, sites and knobs.
        BadConfig{"sed=7", "sed"},
        BadConfig{"fail_page_allocc=1,10,0,-1", "fail_page_allocc"},
        BadConfig{"fail_pages.min-order=1", "fail_pages"},
        BadConfig{"fail_page_alloc.min_order=1", "fail_page_alloc.min_order"},
        BadConfig{"fail_page_alloc.cache-filter=x",
                  "fail_page_alloc.cache-filter"},
        BadConfig{"failslab.min-order=1", "failslab.min-order"},
        BadConfig{"fail_reserve_set.ignore-gfp-wait=1",
                  "fail_reserve_set.ignore-gfp-wait"},
        BadConfig{"failslab.reserve-filter=x", "failslab.reserve-filter"},
        BadConfig{"page_alloc=1,10,0,-1", "page_alloc"},
        BadConfig{"seed", "seed"}, BadConfig{"=5", "empty key"},
        BadConfig{"seed=1;bogus", "bogus"},
        // Bad numbers and trailing junk.
        BadConfig{"seed=abc", "seed"}, BadConfig{"seed=-1", "seed"},
        BadConfig{"seed=+1", "seed"}, BadConfig{"seed=7x", "seed"},
        BadConfig{"seed=7 7", "seed"}, BadConfig{"seed=", "seed"},
        BadConfig{"seed=0x10", "seed"},
        BadConfig{"seed=18446744073709551616", "seed"},
        BadConfig{"fail-nth=-1", "fail-nth"},
        BadConfig{"fail-nth=1.5", "fail-nth"},
        // The boot form.
        BadConfig{"fail_page_alloc=1,10,0", "fail_page_alloc"},
        BadConfig{"fail_page_alloc=1,10,0,-1,5", "fail_page_alloc"},
        BadConfig{"fail_page_alloc=", "fail_page_alloc"},
        BadConfig{"fail_page_alloc=1,10,0,-1x", "times"},
        BadConfig{"fail_page_alloc=x,10,0,-1", "interval"},
        BadConfig{"fail_page_alloc=1,101,0,-1", "probability"},
        BadConfig{"fail_page_alloc=1,-5,0,-1", "probability"},
        BadConfig{"fail_page_alloc=1,10,-5,-1", "space"},
        BadConfig{"fail_page_alloc=1,10,0,-2", "times"},
        BadConfig{"fail_page_alloc=1,,0,-1", "probability"},
        // Probability forms.
        BadConfig{"failslab.probability=100.5", "failslab.probability"},
        BadConfig{"failslab.probability=5%", "failslab.probability"},
        BadConfig{"failslab.probability=0.00000001", "failslab.probability"},
        BadConfig{"failslab.probability=.5", "failslab.probability"},
        // Ranges and enumerations.
        BadConfig{"fail_page_alloc.min-order=11", "fail_page_alloc.min-order"},
        BadConfig{"fail_page_alloc.min-order=-1", "fail_page_alloc.min-order"},
        BadConfig{"fail_page_alloc.ignore-gfp-wait=yes",
                  "fail_page_alloc.ignore-gfp-wait"},
        BadConfig{"fail_page_alloc.ignore-gfp-highmem=2",
                  "fail_page_alloc.ignore-gfp-highmem"},
        BadConfig{"failslab.times=-2", "failslab.times"},
        BadConfig{"failslab.times=1.5", "failslab.times"},
        BadConfig{"failslab.verbose=3", "failslab.verbose"},
        BadConfig{"verbose=3", "verbose"},
        BadConfig{"min-order=1", "min-order"},
        BadConfig{"cache-filter=kmalloc-96", "cache-filter"},
        BadConfig{"probability=200", "probability"},
        BadConfig{"mode=fuzz", "mode"},
        BadConfig{"failslab.mode=Random", "failslab.mode"},
        // Name lists.
        BadConfig{"failslab.cache-filter=", "failslab.cache-filter"},
        BadConfig{"failslab.cache-filter=a,,b", "failslab.cache-filter"},
        BadConfig{"failslab.cache-filter=a b", "failslab.cache-filter"},
        BadConfig{"failslab.cache-filter=a,", "failslab.cache-filter"},
        BadConfig{"fail_page_alloc.require-caller=a'b",
                  "fail_page_alloc.require-caller"},
        // Junk that must still give a one-line message.
        BadConfig{"seed=1\n2", "seed"},
        BadConfig{"fail\x01page=1", "fail\\x01page"}));

TEST(FaultConfigSyntaxTest, DefaultLineIsPinned) {
  EXPECT_EQ(
      FormatFaultConfig(FaultConfig()),
      "seed=0;fail-nth=0;fail_page_alloc=1,0,0,1;failslab_new_slab=1,0,0,1;"
      "failslab=1,0,0,1;fail_reserve_charge=1,0,0,1;fail_reserve_set=1,0,0,1");
}

TEST(FaultConfigSyntaxTest, PrintsOnlyKnobsThatDifferFromTheirDefault) {
  const FaultConfig config = MustParse(
      "seed=7;failslab=1,0.5,0,-1;failslab.cache-filter=kmalloc-96;"
      "fail_page_alloc.min-order=0;fail_page_alloc.ignore-gfp-wait=0;"
      "fail_page_alloc.min-order=1");
  EXPECT_EQ(FormatFaultConfig(config),
            "seed=7;fail-nth=0;fail_page_alloc=1,0,0,1;"
            "fail_page_alloc.ignore-gfp-wait=0;failslab_new_slab=1,0,0,1;"
            "failslab=1,0.5,0,-1;failslab.cache-filter=kmalloc-96;"
            "fail_reserve_charge=1,0,0,1;fail_reserve_set=1,0,0,1");
}

TEST(FaultConfigSyntaxTest, RoundTripOfAConfigWithEveryKnobSet) {
  const FaultConfig config = MustParse(
      "seed=123456789;fail-nth=3;verbose=1;"
      "fail_page_alloc=7,0.0000001,8192,5;fail_page_alloc.min-order=0;"
      "fail_page_alloc.ignore-gfp-wait=0;fail_page_alloc.ignore-gfp-highmem=0;"
      "fail_page_alloc.require-caller=alloc_pages;fail_page_alloc.reject-"
      "caller=a,b;"
      "failslab=0,99.9999999,1,0;failslab.mode=input;failslab.ignore-gfp-wait="
      "0;"
      "failslab.cache-filter=kmalloc-96,kmalloc-192;"
      "failslab_new_slab=2,50,0,-1;failslab_new_slab.cache-filter=x;"
      "fail_reserve_charge=1,100,0,-1;fail_reserve_charge.reserve-filter=net;"
      "fail_reserve_set=3,1,2,3;fail_reserve_set.verbose=2");
  const std::string line = FormatFaultConfig(config);
  EXPECT_EQ(MustParse(line), config) << line;
  EXPECT_EQ(FormatFaultConfig(MustParse(line)), line);
}

TEST(FaultConfigSyntaxTest, RoundTripOfGeneratedConfigs) {
  SeededRandom random(2024);
  const char* const kNames[] = {"kmalloc-96", "net", "kmalloc", "a.b:c+d/e@f"};
  auto names = [&](int count) {
    std::vector<std::string> list;
    for (int i = 0; i < count; ++i) list.push_back(kNames[random.Below(4)]);
    return NameList(list);
  };
  for (int round = 0; round < 300; ++round) {
    FaultConfig config;
    config.seed = random.Next();
    config.fail_nth = random.Below(3) == 0 ? random.Next() : 0;
    for (SiteConfig& site : config.sites) {
      site.attr.probability =
          Probability::FromBillionths(random.Below(Probability::kScale + 1));
      site.attr.interval = random.Below(2) ? random.Next() : random.Below(4);
      site.attr.times = static_cast<int64_t>(random.Next() >> 1) -
                        (random.Below(2) ? 0 : (int64_t{1} << 62));
      if (site.attr.times < -1) site.attr.times = -1;
      site.attr.space = random.Below(2) ? random.Next() : 0;
      site.attr.verbose = static_cast<int>(random.Below(3));
      site.attr.mode =
          random.Below(2) ? DecisionMode::kInput : DecisionMode::kRandom;
      site.attr.require_callers = names(random.Below(3));
      site.attr.reject_callers = names(random.Below(3));
    }
    SiteConfig& page = config.site(FaultSite::kPageAlloc);
    page.page_alloc.min_order = static_cast<int>(random.Below(11));
    page.page_alloc.ignore_gfp_wait = random.Below(2);
    page.page_alloc.ignore_gfp_highmem = random.Below(2);
    for (FaultSite s : {FaultSite::kSlabObject, FaultSite::kSlabNewSlab}) {
      config.site(s).slab.ignore_gfp_wait = random.Below(2);
      config.site(s).slab.cache_filter = names(random.Below(3));
    }
    for (FaultSite s : {FaultSite::kReserveCharge, FaultSite::kReserveSet}) {
      config.site(s).reserve.reserve_filter = names(random.Below(3));
    }
    const std::string line = FormatFaultConfig(config);
    ASSERT_EQ(MustParse(line), config) << line;
  }
}

TEST(FaultConfigSyntaxTest, KnobNamesPerSite) {
  using Names = std::vector<std::string_view>;
  EXPECT_EQ(SiteKnobNames(FaultSite::kPageAlloc),
            (Names{"interval", "probability", "space", "times", "verbose",
                   "mode", "require-caller", "reject-caller", "task-filter",
                   "min-order", "ignore-gfp-wait", "ignore-gfp-highmem"}));
  EXPECT_EQ(SiteKnobNames(FaultSite::kSlabObject),
            (Names{"interval", "probability", "space", "times", "verbose",
                   "mode", "require-caller", "reject-caller", "task-filter",
                   "ignore-gfp-wait", "cache-filter"}));
  EXPECT_EQ(SiteKnobNames(FaultSite::kSlabNewSlab),
            SiteKnobNames(FaultSite::kSlabObject));
  EXPECT_EQ(
      SiteKnobNames(FaultSite::kReserveCharge),
      (Names{"interval", "probability", "space", "times", "verbose", "mode",
             "require-caller", "reject-caller", "task-filter",
             "reserve-filter"}));
}

TEST(FaultConfigSyntaxTest, SingleEntryApplication) {
  FaultConfig config;
  ASSERT_TRUE(ApplyFaultConfigEntry("failslab", "1,5,0,-1", &config).ok());
  EXPECT_EQ(config.site(FaultSite::kSlabObject).attr.probability,
            Probability::Percent(5));
  EXPECT_FALSE(ApplyFaultConfigEntry("failslab", "1,5,0", &config).ok());
  EXPECT_EQ(config.site(FaultSite::kSlabObject).attr.probability,
            Probability::Percent(5));
}

}  // namespace
}  // namespace reservoir::injectors
