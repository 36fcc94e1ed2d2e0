// Stability: recorded byte strings and the text they must keep decoding to.
// The expected texts were written by hand from docs/PROGRAM-FORMAT.md; if
// one of these tests fails, existing corpora and seeds changed meaning.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reservoir/program/decode.h"
#include "reservoir/program/encode.h"
#include "reservoir/program/layout.h"
#include "reservoir/program/text_format.h"

namespace reservoir::program {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes all;
  for (const Bytes& part : parts)
    all.insert(all.end(), part.begin(), part.end());
  return all;
}

const Bytes kZeroHeader(layout::kHeaderSize, 0);

TEST(Stability, EmptyInput) {
  EXPECT_EQ(ToText(Decode({})),
            "# reservoir program v1\n"
            "config normal_pages=256 highmem_pages=0 max_order=8 "
            "min_free_kbytes=default nr_cpus=1 slab_policy=page_tag "
            "estimator=exact audit=cheap\n"
            "faults mode=none seed=0 probability_ppm=0 fail_nth=1 "
            "sites=none\n");
}

TEST(Stability, HeaderWithEveryFieldSet) {
  const Bytes header = {
      0x02, 0x01, 0x01, 0x04, 0x01, 0x01, 0x02, 0x01,  // config
      0x02, 0x03, 0x05, 0x00, 0x09, 0x00, 0x00, 0x00,  // faults
      0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x00, 0x00,  // seed, reserved
  };
  EXPECT_EQ(ToText(Decode(header)),
            "# reservoir program v1\n"
            "config normal_pages=1024 highmem_pages=256 max_order=7 "
            "min_free_kbytes=128 nr_cpus=2 slab_policy=no_mixing "
            "estimator=pow2 audit=full\n"
            "faults mode=fail_nth seed=305419896 probability_ppm=50000 "
            "fail_nth=10 sites=page_alloc|slab_object\n");
  EXPECT_EQ(Encode(Decode(header)), header);  // already canonical
}

TEST(Stability, HeaderBytesAreTakenModuloTheirTables) {
  const Bytes header = {
      0x07, 0x04, 0xff, 0x08, 0x07, 0x02, 0x05, 0x02,  // config
      0x07, 0x0f, 0xff, 0xaa, 0xff, 0xff, 0x55, 0x55,  // faults, reserved
      0xff, 0xff, 0xff, 0xff, 0x11, 0x11, 0x11, 0x11,  // seed, reserved
  };
  EXPECT_EQ(ToText(Decode(header)),
            "# reservoir program v1\n"
            "config normal_pages=1024 highmem_pages=0 max_order=7 "
            "min_free_kbytes=default nr_cpus=4 slab_policy=page_tag "
            "estimator=pow2 audit=cheap\n"
            "faults mode=input seed=4294967295 probability_ppm=1000000 "
            "fail_nth=65536 sites=page_alloc|slab_new_slab|slab_object|"
            "reserve_charge|reserve_set\n");
  const Bytes canonical = {
      0x02, 0x00, 0x03, 0x00, 0x03, 0x00, 0x02, 0x00, 0x03, 0x07, 0x1f, 0x00,
      0xff, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
  };
  EXPECT_EQ(Encode(Decode(header)), canonical);
}

TEST(Stability, OperationRecords) {
  const Bytes header = {0x00, 0x03, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                        0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0};
  const Bytes input = Concat({
      header,
      {0x03, 0x64, 0x00, 0x48, 0x01, 0x00, 0x00, 0x00},
      {0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
      {0x01, 0x0b, 0x04, 0x05, 0x00, 0x00, 0x00, 0x00},
      {0x43, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
      {0x21, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
      {0x0f, 0x02, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00},
      {0x1f, 0x07, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00},
      {0x05, 0x00, 0x10, 0x03, 0x00, 0x00, 0x00, 0x00},
      {0x11, 0xff, 0xff, 0x01, 0xff, 0x00, 0x00, 0x00},
      {0x1d, 0x00, 0x04, 0x0c, 0x02, 0x00, 0x00, 0x00},
      {0x05, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00},
      {0x0c, 0x01, 0x02, 0x2c, 0x01, 0x00, 0x00, 0x00},
      {0x0b, 0x01},  // truncated: the missing bytes read as zero
  });
  EXPECT_EQ(ToText(Decode(input)),
            "# reservoir program v1\n"
            "config normal_pages=256 highmem_pages=1024 max_order=4 "
            "min_free_kbytes=default nr_cpus=1 slab_policy=page_tag "
            "estimator=exact audit=cheap\n"
            "faults mode=none seed=0 probability_ppm=0 fail_nth=1 "
            "sites=none\n"
            "kmalloc size=100 gfp=KERNEL|ZERO cpu=1\n"
            "kfree obj=0\n"
            "alloc_pages order=0 gfp=ATOMIC cpu=1\n"
            "kmalloc size=1 gfp=0 cpu=0\n"
            "nop\n"
            "reserve_charge res=2 bytes=4096\n"
            "fail_next site=slab_object skip=3\n"
            "cache_create size=4096 align=8\n"
            "kmalloc_reserve size=65535 gfp=MEMALLOC cpu=3 res=0\n"
            "pressure pages=1024 gfp=KERNEL|HIGH cpu=2\n"
            "cache_create size=1 align=8\n"
            "reserve_set_cache res=1 cache=2 objects=300\n"
            "reserve_set_kmalloc res=1 bytes=0\n");

  const Bytes canonical = Concat({
      {0x00, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0,
       0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0},
      {0x03, 0x64, 0x00, 0x48, 0x01, 0x00, 0x00, 0x00},
      {0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
      {0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00},
      {0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
      {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
      {0x0f, 0x02, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00},
      {0x1f, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00},
      {0x05, 0x00, 0x10, 0x03, 0x00, 0x00, 0x00, 0x00},
      {0x11, 0xff, 0xff, 0x01, 0x03, 0x00, 0x00, 0x00},
      {0x1d, 0x00, 0x04, 0x0c, 0x02, 0x00, 0x00, 0x00},
      {0x05, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00},
      {0x0c, 0x01, 0x02, 0x2c, 0x01, 0x00, 0x00, 0x00},
      {0x0b, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
  });
  EXPECT_EQ(Encode(Decode(input)), canonical);
}

TEST(Stability, OpsBeyondTheLimitAreIgnored) {
  Bytes input = kZeroHeader;
  for (int i = 0; i < 300; ++i) {
    input.insert(input.end(), {0x20, 0, 0, 0, 0, 0, 0, 0});  // audit
  }
  const std::string text = ToText(Decode(input));
  size_t audits = 0;
  for (size_t at = text.find("\naudit\n"); at != std::string::npos;
       at = text.find("\naudit\n", at + 1)) {
    ++audits;
  }
  EXPECT_EQ(audits, 256u);
}

}  // namespace
}  // namespace reservoir::program
