// Validation: errors for programs that cannot be encoded faithfully,
// warnings for hand-written programs that certainly do something other
// than they read.
#include "reservoir/program/validate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reservoir/program/decode.h"
#include "reservoir/program/encode.h"
#include "reservoir/program/text_format.h"

namespace reservoir::program {
namespace {

// The problems of the program whose operations are `ops` (text lines),
// under the given header lines, rendered with ToString.
std::vector<std::string> ProblemsOf(
    const std::string& ops,
    const std::string& faults =
        "faults mode=none seed=0 probability_ppm=0 fail_nth=1 sites=none",
    const std::string& config =
        "config normal_pages=256 highmem_pages=0 max_order=8 "
        "min_free_kbytes=default nr_cpus=2 slab_policy=page_tag "
        "estimator=exact audit=cheap") {
  const ParseResult parsed = FromText(config + "\n" + faults + "\n" + ops);
  EXPECT_TRUE(parsed.ok()) << parsed.error->ToString();
  std::vector<std::string> problems;
  for (const Problem& problem : Validate(parsed.program)) {
    problems.push_back(problem.ToString());
  }
  return problems;
}

using Lines = std::vector<std::string>;

TEST(Validate, CleanProgramHasNoProblems) {
  EXPECT_EQ(ProblemsOf("kmalloc size=100 gfp=KERNEL cpu=1\n"
                       "cache_create size=64 align=8\n"
                       "cache_alloc cache=0 gfp=KERNEL cpu=0\n"
                       "reserve_create parent=0\n"
                       "reserve_set_cache res=1 cache=0 objects=10\n"
                       "reserve_charge res=1 bytes=64\n"
                       "reserve_uncharge charge=0\n"
                       "cache_free obj=0\n"
                       "cache_destroy cache=0\n"
                       "kfree obj=0\n"),
            Lines{});
}

TEST(Validate, IndexIntoAnEmptySetIsAWarning) {
  EXPECT_EQ(ProblemsOf("kfree obj=0\n"
                       "free_pages_reserve grant=0\n"),
            (Lines{"warning: op 0: kfree: no live kmalloc objects here, so "
                   "it does nothing",
                   "warning: op 1: free_pages_reserve: no live page grants "
                   "here, so it does nothing"}));
}

TEST(Validate, SetsShrinkWhenElementsAreRemoved) {
  EXPECT_EQ(ProblemsOf("alloc_pages order=0 gfp=KERNEL cpu=0\n"
                       "free_pages page=0\n"
                       "free_pages page=0\n"),
            (Lines{"warning: op 2: free_pages: no live pages here, so it "
                   "does nothing"}));
}

TEST(Validate, OpsOnAnEmptySetAddNothing) {
  // No cache: cache_alloc does nothing, so cache_free has nothing either.
  EXPECT_EQ(ProblemsOf("cache_alloc cache=0 gfp=KERNEL cpu=0\n"
                       "cache_free obj=0\n"),
            (Lines{"warning: op 0: cache_alloc: no live caches here, so it "
                   "does nothing",
                   "warning: op 1: cache_free: no live cache objects here, "
                   "so it does nothing"}));
}

TEST(Validate, IndexThatCertainlyWrapsIsAWarning) {
  EXPECT_EQ(ProblemsOf("kmalloc size=8 gfp=KERNEL cpu=0\n"
                       "kmalloc size=8 gfp=KERNEL cpu=0\n"
                       "kfree obj=2\n"
                       "reserve_set_pages res=1 pages=1\n"),
            (Lines{"warning: op 2: kfree: obj=2 wraps: at most 2 live "
                   "kmalloc objects here",
                   "warning: op 3: reserve_set_pages: res=1 wraps: at most "
                   "1 live reserves here"}));
}

TEST(Validate, CacheDestroyMayKeepTheCache) {
  // cache_destroy fails while objects live, so the cache may still exist.
  EXPECT_EQ(ProblemsOf("cache_create size=32 align=8\n"
                       "cache_destroy cache=0\n"
                       "cache_alloc cache=0 gfp=KERNEL cpu=0\n"),
            Lines{});
}

TEST(Validate, CpuAndOrderTheExecutorReduces) {
  EXPECT_EQ(ProblemsOf("alloc_pages order=10 gfp=KERNEL cpu=3\n"),
            (Lines{"warning: op 0: alloc_pages: order=10 is clamped to "
                   "max_order=8",
                   "warning: op 0: alloc_pages: cpu=3 runs on cpu 1 (cpu "
                   "modulo nr_cpus=2)"}));
}

TEST(Validate, StateChangesThatChangeNothing) {
  EXPECT_EQ(ProblemsOf("leave_softirq\n"
                       "set_pf_memalloc\n"
                       "set_pf_memalloc\n"
                       "clear_oom_victim\n"
                       "release_pressure\n"
                       "pressure pages=0 gfp=KERNEL cpu=0\n"
                       "pressure pages=10 gfp=KERNEL cpu=0\n"
                       "release_pressure\n"),
            (Lines{"warning: op 0: leave_softirq: softirq is not set, so it "
                   "does nothing",
                   "warning: op 2: set_pf_memalloc: PF_MEMALLOC is already "
                   "set, so it does nothing",
                   "warning: op 3: clear_oom_victim: OOM victim is not set, "
                   "so it does nothing",
                   "warning: op 4: release_pressure: no pressure is held, so "
                   "it does nothing",
                   "warning: op 5: pressure: pages=0 allocates nothing"}));
}

TEST(Validate, FailNextOutsideInputMode) {
  EXPECT_EQ(ProblemsOf("fail_next site=page_alloc skip=0\n"),
            (Lines{"warning: op 0: fail_next: does nothing unless faults "
                   "mode=input"}));
  EXPECT_EQ(ProblemsOf("fail_next site=page_alloc skip=0\n",
                       "faults mode=input seed=0 probability_ppm=0 "
                       "fail_nth=1 sites=none"),
            Lines{});
}

TEST(Validate, FaultPolicyThatInjectsNothing) {
  EXPECT_EQ(ProblemsOf("",
                       "faults mode=random seed=1 probability_ppm=0 "
                       "fail_nth=1 sites=none"),
            (Lines{"warning: header: faults: no site is armed, so nothing "
                   "is injected",
                   "warning: header: faults: mode=random with "
                   "probability_ppm=0 injects nothing"}));
}

// Errors: values Encode cannot carry. Each program also shows why it is an
// error: it does not survive the binary round trip.
void ExpectError(const Program& program, const std::string& expected) {
  const std::vector<Problem> problems = Validate(program);
  ASSERT_TRUE(HasErrors(problems));
  EXPECT_EQ(problems.front().ToString(), expected);
  EXPECT_NE(Decode(Encode(program)), program);
}

TEST(Validate, OutOfRangeArgumentIsAnError) {
  Program program;
  program.ops.push_back(op::AllocPages{.order = 11});
  ExpectError(program,
              "error: op 0: alloc_pages: order=11 out of range (0..10)");
  program.ops[0] = op::CacheCreate{.size = 64, .align = 3};
  ExpectError(program,
              "error: op 0: cache_create: align=3 out of range "
              "(a power of two 1..128)");
  program.ops[0] = op::Kmalloc{.size = 0};
  ExpectError(program, "error: op 0: kmalloc: size=0 out of range (1..65535)");
}

TEST(Validate, HeaderOutsideItsTablesIsAnError) {
  Program program;
  program.header.normal_pages = 300;
  ExpectError(program, "error: header: normal_pages=300 is not in the table");
  program.header = Header{};
  program.header.max_order = 10;  // 256 pages hold at most order 8
  ExpectError(program,
              "error: header: max_order=10 out of range (4..8 for these "
              "zones)");
  program.header = Header{};
  program.header.fail_nth = 0;
  ExpectError(program, "error: header: fail_nth=0 out of range (1..65536)");
  program.header = Header{};
  program.header.audit = AuditLevel::kOff;
  ExpectError(program, "error: header: audit must be cheap or full");
}

TEST(Validate, TooManyOperationsIsAnError) {
  Program program;
  program.ops.resize(kMaxOps + 1, op::Audit{});
  ExpectError(program,
              "error: op 256: 257 operations; Encode keeps the first 256");
}

}  // namespace
}  // namespace reservoir::program
