// The text parser rejects bad lines with one line naming the line number
// and the problem.
#include <gtest/gtest.h>

#include <string>

#include "reservoir/program/text_format.h"

namespace reservoir::program {
namespace {

constexpr const char* kHeader =
    "# reservoir program v1\n"
    "config normal_pages=256 highmem_pages=0 max_order=8 "
    "min_free_kbytes=default nr_cpus=1 slab_policy=page_tag estimator=exact "
    "audit=cheap\n"
    "faults mode=none seed=0 probability_ppm=0 fail_nth=1 sites=none\n";

// The error for `text`, which must not parse.
std::string ErrorOf(const std::string& text) {
  const ParseResult result = FromText(text);
  if (result.ok()) return "(parsed)";
  const std::string message = result.error->ToString();
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  return message;
}

// The error for one operation line placed after the header (line 4).
std::string OpError(const std::string& line) {
  return ErrorOf(std::string(kHeader) + line + "\n");
}

TEST(TextError, UnknownOp) {
  EXPECT_EQ(OpError("kmaloc size=1 gfp=0 cpu=0"),
            "line 4: unknown op 'kmaloc'");
}

TEST(TextError, MissingField) {
  EXPECT_EQ(OpError("kmalloc size=1 gfp=0"),
            "line 4: kmalloc: missing field 'cpu'");
  EXPECT_EQ(OpError("free_pages"), "line 4: free_pages: missing field 'page'");
}

TEST(TextError, BadField) {
  EXPECT_EQ(OpError("kmalloc size gfp=0 cpu=0"),
            "line 4: kmalloc: bad field 'size' (expected key=value)");
  EXPECT_EQ(OpError("kfree obj="),
            "line 4: kfree: bad field 'obj=' (expected key=value)");
  EXPECT_EQ(OpError("kfree =1"),
            "line 4: kfree: bad field '=1' (expected key=value)");
}

TEST(TextError, UnknownAndDuplicateFields) {
  EXPECT_EQ(OpError("kfree obj=1 page=2"),
            "line 4: kfree: unknown field 'page'");
  EXPECT_EQ(OpError("audit now=1"), "line 4: audit: unknown field 'now'");
  EXPECT_EQ(OpError("kfree obj=1 obj=2"),
            "line 4: kfree: duplicate field 'obj'");
}

TEST(TextError, ValueOutOfRange) {
  EXPECT_EQ(OpError("alloc_pages order=11 gfp=0 cpu=0"),
            "line 4: alloc_pages: order=11 out of range (0..10)");
  EXPECT_EQ(OpError("alloc_pages order=1 gfp=0 cpu=4"),
            "line 4: alloc_pages: cpu=4 out of range (0..3)");
  EXPECT_EQ(OpError("kmalloc size=0 gfp=0 cpu=0"),
            "line 4: kmalloc: size=0 out of range (1..65535)");
  EXPECT_EQ(OpError("kmalloc size=65536 gfp=0 cpu=0"),
            "line 4: kmalloc: size=65536 out of range (1..65535)");
  EXPECT_EQ(OpError("kfree obj=256"),
            "line 4: kfree: obj=256 out of range (0..255)");
  EXPECT_EQ(OpError("cache_create size=64 align=3"),
            "line 4: cache_create: align=3 out of range "
            "(a power of two 1..128)");
  EXPECT_EQ(OpError("reserve_charge res=0 bytes=4294967296"),
            "line 4: reserve_charge: bytes=4294967296 out of range "
            "(0..4294967295)");
  EXPECT_EQ(OpError("kfree obj=99999999999999999999999"),
            "line 4: kfree: obj=99999999999999999999999 out of range "
            "(0..255)");
  EXPECT_EQ(OpError("kmalloc size=1 gfp=0x100 cpu=0"),
            "line 4: kmalloc: gfp=0x100 out of range (0..255)");
}

TEST(TextError, BadValue) {
  EXPECT_EQ(OpError("kfree obj=x1"),
            "line 4: kfree: bad value 'x1' for 'obj' (expected a number)");
  EXPECT_EQ(OpError("kfree obj=-1"),
            "line 4: kfree: bad value '-1' for 'obj' (expected a number)");
  EXPECT_EQ(OpError("kmalloc size=1 gfp=KERNL cpu=0"),
            "line 4: kmalloc: unknown gfp flag 'KERNL' in gfp=KERNL");
  EXPECT_EQ(OpError("kmalloc size=1 gfp=KERNEL| cpu=0"),
            "line 4: kmalloc: unknown gfp flag '' in gfp=KERNEL|");
  EXPECT_EQ(OpError("fail_next site=page skip=0"),
            "line 4: fail_next: bad value 'page' for 'site' (expected "
            "page_alloc|slab_new_slab|slab_object|reserve_charge|"
            "reserve_set)");
}

TEST(TextError, LineNumbersCountCommentsAndBlankLines) {
  const std::string text = std::string(kHeader) +
                           "\n"
                           "# a comment\n"
                           "kmalloc size=8 gfp=KERNEL cpu=0  # fine\n"
                           "kfree obj=0 extra\n";
  EXPECT_EQ(ErrorOf(text),
            "line 7: kfree: bad field 'extra' (expected key=value)");
}

TEST(TextError, ConfigProblems) {
  const std::string faults =
      "faults mode=none seed=0 probability_ppm=0 fail_nth=1 sites=none\n";
  auto config_error = [&](const std::string& config) {
    return ErrorOf("config " + config + "\n" + faults);
  };
  const std::string good_tail =
      " nr_cpus=1 slab_policy=page_tag estimator=exact audit=cheap";
  EXPECT_EQ(config_error("normal_pages=300 highmem_pages=0 max_order=8 "
                         "min_free_kbytes=default" +
                         good_tail),
            "line 1: config: normal_pages=300 out of range "
            "(256|512|1024|2048|4096)");
  EXPECT_EQ(config_error("normal_pages=256 highmem_pages=0 max_order=10 "
                         "min_free_kbytes=default" +
                         good_tail),
            "line 1: config: max_order=10 out of range (4..8)");
  EXPECT_EQ(config_error("normal_pages=256 highmem_pages=0 max_order=8 "
                         "min_free_kbytes=100" +
                         good_tail),
            "line 1: config: min_free_kbytes=100 out of range "
            "(default|0|16|64|128|256|512|1024)");
  EXPECT_EQ(config_error("normal_pages=256 highmem_pages=0 max_order=8 "
                         "min_free_kbytes=default nr_cpus=1 "
                         "slab_policy=page_tag estimator=3n audit=cheap"),
            "line 1: config: bad value '3n' for 'estimator' (expected "
            "exact|2n+m|pow2)");
  EXPECT_EQ(config_error("normal_pages=256 highmem_pages=0 max_order=8"),
            "line 1: config: missing field 'min_free_kbytes'");
}

TEST(TextError, FaultsProblems) {
  const std::string config =
      "config normal_pages=256 highmem_pages=0 max_order=8 "
      "min_free_kbytes=default nr_cpus=1 slab_policy=page_tag "
      "estimator=exact audit=cheap\n";
  EXPECT_EQ(ErrorOf(config + "faults mode=sometimes seed=0 "
                             "probability_ppm=0 fail_nth=1 sites=none\n"),
            "line 2: faults: bad value 'sometimes' for 'mode' (expected "
            "none|random|fail_nth|input)");
  EXPECT_EQ(ErrorOf(config + "faults mode=none seed=0 probability_ppm=0 "
                             "fail_nth=0 sites=none\n"),
            "line 2: faults: fail_nth=0 out of range (1..65536)");
  EXPECT_EQ(ErrorOf(config + "faults mode=none seed=0 probability_ppm=0 "
                             "fail_nth=1 sites=page_alloc|disk\n"),
            "line 2: faults: unknown fault site 'disk' in "
            "sites=page_alloc|disk (expected none, all or page_alloc|"
            "slab_new_slab|slab_object|reserve_charge|reserve_set)");
}

TEST(TextError, Structure) {
  const std::string config =
      "config normal_pages=256 highmem_pages=0 max_order=8 "
      "min_free_kbytes=default nr_cpus=1 slab_policy=page_tag "
      "estimator=exact audit=cheap\n";
  EXPECT_EQ(ErrorOf(""), "line 1: missing 'config' line");
  EXPECT_EQ(ErrorOf("# only a comment\n"), "line 2: missing 'config' line");
  EXPECT_EQ(ErrorOf(config), "line 2: missing 'faults' line");
  EXPECT_EQ(ErrorOf("audit\n"), "line 1: operation before the 'config' line");
  EXPECT_EQ(ErrorOf(config + "audit\n"),
            "line 2: operation before the 'faults' line");
  EXPECT_EQ(ErrorOf(std::string(kHeader) + config),
            "line 4: duplicate 'config' line");
  EXPECT_EQ(ErrorOf(std::string(kHeader) +
                    "faults mode=none seed=0 probability_ppm=0 fail_nth=1 "
                    "sites=none\n"),
            "line 4: duplicate 'faults' line");
  EXPECT_EQ(ErrorOf("faults mode=none\n"),
            "line 1: 'faults' line before 'config'");
  EXPECT_EQ(ErrorOf("# reservoir program v2\n" + config),
            "line 1: unsupported format version 'v2' (this parser reads v1)");
}

TEST(TextError, TooManyOperations) {
  std::string text = kHeader;
  for (int i = 0; i < 257; ++i) text += "audit\n";
  EXPECT_EQ(ErrorOf(text), "line 260: too many operations (at most 256)");
}

}  // namespace
}  // namespace reservoir::program
