#include "reservoir/injectors/fault_log.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "fault_calls.h"
#include "gtest/gtest.h"
#include "reservoir/injectors/fault_config_syntax.h"
#include "reservoir/injectors/fault_injector.h"

namespace reservoir::injectors {
namespace {

using testing::ChargeCall;
using testing::PageCall;
using testing::SlabObjectCall;

std::string Printed(const FaultLogEntry& entry) {
  char* buffer = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&buffer, &size);
  PrintFaultLogEntry(out, entry);
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  return text;
}

TEST(FaultLogTest, RecordsEveryFieldAndCopiesTheNames) {
  FaultLog log;
  EXPECT_EQ(log.newest(), nullptr);
  std::string cache = "kmalloc-96";
  FaultCall call =
      SlabObjectCall(cache.c_str(), 90, kGfpAtomic | kGfpZero, "kmalloc");
  log.Record(call, FaultCause::kRandom, 3, 7);
  cache = "overwritten";  // the log keeps its own copy
  ASSERT_EQ(log.size(), 1u);
  const FaultLogEntry& entry = log.entry(0);
  EXPECT_EQ(entry.site, FaultSite::kSlabObject);
  EXPECT_EQ(entry.cause, FaultCause::kRandom);
  EXPECT_EQ(entry.site_call, 3u);
  EXPECT_EQ(entry.context_call, 7u);
  EXPECT_EQ(entry.size, 90u);
  EXPECT_EQ(entry.gfp, kGfpAtomic | kGfpZero);
  EXPECT_STREQ(entry.cache, "kmalloc-96");
  EXPECT_STREQ(entry.reserve, "");
  EXPECT_STREQ(entry.call_site, "kmalloc");
  EXPECT_EQ(Printed(entry),
            "failslab call 3 (context call 7, random): order=0 size=90 gfp=0x44"
            " cache=kmalloc-96 reserve=- call_site=kmalloc");
}

TEST(FaultLogTest, CutsLongNames) {
  FaultLog log;
  const std::string long_name(100, 'r');
  log.Record(ChargeCall(long_name.c_str(), 1), FaultCause::kInput, 1, 1);
  EXPECT_EQ(std::string(log.entry(0).reserve),
            long_name.substr(0, kFaultLogNameSize - 1));
}

TEST(FaultLogTest, KeepsTheNewestEntriesAndCountsTheDropped) {
  FaultLog log;
  const uint64_t total = kFaultLogCapacity + 10;
  for (uint64_t i = 1; i <= total; ++i) {
    log.Record(PageCall(1), FaultCause::kRandom, i, i);
  }
  EXPECT_EQ(log.size(), kFaultLogCapacity);
  EXPECT_EQ(log.recorded(), total);
  EXPECT_EQ(log.dropped(), 10u);
  EXPECT_EQ(log.entry(0).site_call, 11u);
  EXPECT_EQ(log.entry(kFaultLogCapacity - 1).site_call, total);
  EXPECT_EQ(log.newest()->site_call, total);
  EXPECT_EQ(log.Find(FaultSite::kPageAlloc, 10), nullptr);  // dropped
  ASSERT_NE(log.Find(FaultSite::kPageAlloc, 11), nullptr);
  EXPECT_EQ(log.Find(FaultSite::kSlabObject, 11), nullptr);
  log.Clear();
  EXPECT_EQ(log.size(), 0u);
  EXPECT_EQ(log.dropped(), 0u);
  EXPECT_EQ(log.newest(), nullptr);
}

TEST(FaultLogTest, TheInjectorLogsSiteAndContextCallNumbers) {
  // failslab fails every 3rd of its eligible calls; page calls are eligible
  // (they count in the context) but never fail.
  absl::StatusOr<FaultConfig> config = ParseFaultConfig(
      "verbose=0;failslab=3,100,0,-1;fail_page_alloc.min-order=0");
  ASSERT_TRUE(config.ok());
  FaultInjector injector(*config);
  for (int i = 0; i < 9; ++i) {
    injector.ShouldFail(PageCall(0));
    injector.ShouldFail(SlabObjectCall("c", 16));
  }
  ASSERT_EQ(injector.log().size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const FaultLogEntry& entry = injector.log().entry(i);
    EXPECT_EQ(entry.site, FaultSite::kSlabObject);
    EXPECT_EQ(entry.site_call, 3 * (i + 1));
    EXPECT_EQ(entry.context_call, 6 * (i + 1));  // page, slab, page, slab ...
  }
  EXPECT_EQ(injector.injected(), 3u);
}

}  // namespace
}  // namespace reservoir::injectors
