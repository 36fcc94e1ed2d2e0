// Layer 1: the buddy page allocator. Every expected number below is worked
// out by hand from mm/page_alloc.c's rules (expand, __free_one_page,
// __setup_per_zone_wmarks, __zone_watermark_ok, gfp_to_alloc_flags,
// __gfp_pfmemalloc_flags); the comments show the arithmetic.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "reservoir/model.h"
#include "test_support.h"

namespace reservoir {
namespace {

using test::Exhaust;
using test::GfpCtx;
using test::KernelCtx;
using test::MemallocCtx;

// Watermarks all zero in ZONE_NORMAL (min_free_kbytes 0; with scale factor
// 1 the low/high distance is managed / 10000 = 0 for small zones), so a
// kernel caller may take every page: pure buddy behaviour.
ModelConfig BuddyConfig(int max_order, uint32_t normal_pages,
                        uint32_t highmem_pages = 0) {
  ModelConfig config;
  config.normal_pages = normal_pages;
  config.highmem_pages = highmem_pages;
  config.max_order = max_order;
  config.min_free_kbytes = 0;
  config.watermark_scale_factor = 1;
  config.nr_cpus = 1;
  config.audit = AuditLevel::kFull;
  return config;
}

// ---------------------------------------------------------------------------
// Split and merge.

class BuddySplitTest : public ::testing::TestWithParam<int> {};

// Two max-order blocks of 2^10 pages. Allocating order k from the pristine
// zone takes the first block (pfn 0) and expand() leaves one free block at
// each order k..9, the block of order j at pfn 2^j; the second max-order
// block stays whole.
TEST_P(BuddySplitTest, SplitLeavesOneBlockPerOrderAndFreeMergesBack) {
  const int k = GetParam();
  Model model(BuddyConfig(10, 2048));
  const Zone& zone = model.pages().zone(kZoneNormal);

  const Pfn pfn = model.AllocPages(k, KernelCtx());
  ASSERT_EQ(pfn, 0u);
  EXPECT_EQ(zone.free_pages, 2048u - (1u << k));
  for (int order = 0; order <= 10; ++order) {
    const uint64_t expected = order == 10 ? 1 : (order >= k ? 1 : 0);
    EXPECT_EQ(zone.free_area[order].nr_free, expected) << "order " << order;
  }
  for (int order = k; order < 10; ++order) {
    const Pfn head = Pfn{1} << order;
    EXPECT_EQ(zone.free_area[order].head, head) << "order " << order;
    EXPECT_TRUE(model.pages().frame(head).flags & kPageBuddy);
    EXPECT_EQ(model.pages().frame(head).order, order);
  }
  EXPECT_EQ(model.pages().frame(0).order, k);
  EXPECT_TRUE(model.pages().frame(0).flags & kPageHead);

  if (k < 10) {
    // The next block of the same order is the buddy, taken from free_area[k].
    const Pfn buddy = model.AllocPages(k, KernelCtx());
    EXPECT_EQ(buddy, Pfn{1} << k);
    EXPECT_EQ(zone.free_area[k].nr_free, 0u);
    // Freeing the first: its buddy is allocated, so no merge.
    model.FreePages(pfn, k);
    EXPECT_EQ(zone.free_area[k].nr_free, 1u);
    EXPECT_EQ(zone.free_area[k].head, 0u);
    // Order k + 1 still holds the block at 2^(k+1) (or, for k = 9, the
    // second max-order block).
    EXPECT_EQ(zone.free_area[k + 1].nr_free, 1u);
    // Freeing the buddy merges all the way up.
    model.FreePages(buddy, k);
  } else {
    model.FreePages(pfn, k);
  }
  for (int order = 0; order < 10; ++order) {
    EXPECT_EQ(zone.free_area[order].nr_free, 0u) << "order " << order;
  }
  EXPECT_EQ(zone.free_area[10].nr_free, 2u);
  EXPECT_EQ(zone.free_pages, 2048u);
  EXPECT_TRUE(model.pages().IsPristine());
  model.AuditFull();
}

INSTANTIATE_TEST_SUITE_P(EveryOrder, BuddySplitTest, ::testing::Range(0, 11));

// A free block whose buddy head is free but of a different order must not
// merge with it.
TEST(BuddyMergeTest, NeverMergesWithDifferentlySizedOrAllocatedBuddy) {
  Model model(BuddyConfig(4, 32));
  const Zone& zone = model.pages().zone(kZoneNormal);
  // From pristine, order-0 allocations come out in address order.
  std::vector<Pfn> p;
  for (int i = 0; i < 4; ++i) p.push_back(model.AllocPages(0, KernelCtx()));
  ASSERT_EQ(p, (std::vector<Pfn>{0, 1, 2, 3}));

  model.FreePages(2, 0);  // buddy 3 allocated: stays order 0
  EXPECT_EQ(zone.free_area[0].nr_free, 1u);
  model.FreePages(0, 0);  // buddy 1 allocated
  EXPECT_EQ(zone.free_area[0].nr_free, 2u);
  // 1 merges with 0 into an order-1 block at 0. Its order-1 buddy is pfn 2,
  // a free block of order 0 only: no merge.
  model.FreePages(1, 0);
  EXPECT_EQ(zone.free_area[0].nr_free, 1u);
  EXPECT_EQ(zone.free_area[0].head, 2u);
  EXPECT_EQ(zone.free_area[1].nr_free, 1u);
  EXPECT_EQ(zone.free_area[1].head, 0u);
  EXPECT_EQ(zone.free_area[2].nr_free, 1u);  // 4..7, split off at the start
  EXPECT_EQ(zone.free_area[2].head, 4u);
  model.AuditFull();
  // 3 merges with 2, then with 0, then with 4 (order 2) and 8 (order 3).
  model.FreePages(3, 0);
  for (int order = 0; order < 4; ++order) {
    EXPECT_EQ(zone.free_area[order].nr_free, 0u) << "order " << order;
  }
  EXPECT_EQ(zone.free_area[4].nr_free, 2u);
  EXPECT_TRUE(model.pages().IsPristine());
}

// The buddy system's own invariant, checked against an independent oracle:
// with every possible merge done, the free blocks are exactly the maximal
// aligned power-of-two runs of free pages (up to max_order). A deterministic
// mix of allocations and frees; after each step the per-order counts must
// equal the oracle's, and each allocation must come from the smallest
// free block that fits (__rmqueue_smallest).
TEST(BuddyMergeTest, FreeAreasAlwaysMatchMaximalAlignedFreeRuns) {
  constexpr int kMaxOrder = 4;
  constexpr uint32_t kPages = 64;
  Model model(BuddyConfig(kMaxOrder, kPages));
  const Zone& zone = model.pages().zone(kZoneNormal);
  std::vector<bool> used(kPages, false);
  std::vector<test::PageBlock> live;

  auto block_free = [&](Pfn start, int order) {
    for (Pfn p = start; p < start + (1u << order); ++p) {
      if (used[p]) return false;
    }
    return true;
  };
  // Maximal free aligned blocks of each order.
  auto oracle = [&](uint64_t counts[kMaxOrder + 1]) {
    for (int order = 0; order <= kMaxOrder; ++order) {
      counts[order] = 0;
      for (Pfn start = 0; start < kPages; start += 1u << order) {
        if (!block_free(start, order)) continue;
        if (order < kMaxOrder) {
          const Pfn parent = start & ~((2u << order) - 1);
          if (block_free(parent, order + 1)) continue;
        }
        ++counts[order];
      }
    }
  };

  uint64_t state = 12345;
  auto next = [&](uint32_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>((state >> 33) % n);
  };
  int allocations = 0;
  for (int step = 0; step < 600; ++step) {
    uint64_t before[kMaxOrder + 1];
    oracle(before);
    if (live.empty() || next(5) < 3) {
      const int order = static_cast<int>(next(kMaxOrder + 1));
      int smallest = -1;
      for (int o = order; o <= kMaxOrder; ++o) {
        if (before[o] > 0) {
          smallest = o;
          break;
        }
      }
      const Pfn pfn = model.AllocPages(order, KernelCtx());
      if (smallest < 0) {
        EXPECT_EQ(pfn, kNoPfn) << "step " << step;
        continue;
      }
      ASSERT_NE(pfn, kNoPfn) << "step " << step;
      ++allocations;
      ASSERT_EQ(pfn % (1u << order), 0u) << "misaligned block";
      // It lies in a free block of the smallest fitting order.
      const Pfn source = pfn & ~((1u << smallest) - 1);
      ASSERT_TRUE(block_free(source, smallest)) << "step " << step;
      if (smallest < kMaxOrder) {
        const Pfn parent = source & ~((2u << smallest) - 1);
        ASSERT_FALSE(block_free(parent, smallest + 1))
            << "step " << step << ": split a larger block than needed";
      }
      for (Pfn p = pfn; p < pfn + (1u << order); ++p) used[p] = true;
      live.push_back({pfn, order});
    } else {
      const size_t i = next(static_cast<uint32_t>(live.size()));
      model.FreePages(live[i].pfn, live[i].order);
      for (Pfn p = live[i].pfn; p < live[i].pfn + (1u << live[i].order); ++p)
        used[p] = false;
      live[i] = live.back();
      live.pop_back();
    }
    uint64_t expected[kMaxOrder + 1];
    oracle(expected);
    uint64_t free_pages = 0;
    for (int order = 0; order <= kMaxOrder; ++order) {
      ASSERT_EQ(zone.free_area[order].nr_free, expected[order])
          << "step " << step << " order " << order;
      free_pages += expected[order] << order;
    }
    ASSERT_EQ(zone.free_pages, free_pages);
  }
  EXPECT_GT(allocations, 200);
  for (const test::PageBlock& block : live) model.FreePages(block.pfn, block.order);
  EXPECT_TRUE(model.pages().IsPristine());
}

// Two zones of one max-order block each: NORMAL [0, 256), HIGHMEM
// [256, 512). Pages on both sides of the boundary are freed last; they
// merge within their own zone only.
TEST(BuddyZoneTest, MergeNeverCrossesZones) {
  Model model(BuddyConfig(8, 256, 256));
  const Zone& normal = model.pages().zone(kZoneNormal);
  const Zone& high = model.pages().zone(kZoneHighmem);
  ASSERT_EQ(high.start_pfn, 256u);
  // Watermarks (min_free_kbytes 0, scale 1): NORMAL 0/0/0; HIGHMEM min is
  // clamp(256 / 1024, 32, 128) = 32 and low = high = 32 + max(0 >> 2,
  // 256 * 1 / 10000) = 32; NORMAL keeps 256 / 32 = 8 pages from
  // highmem-capable requests.
  EXPECT_EQ(high.watermark[kAllocWmarkMin], 32u);
  EXPECT_EQ(high.watermark[kAllocWmarkLow], 32u);
  EXPECT_EQ(normal.lowmem_reserve[kZoneHighmem], 8u);

  // Exhaust both zones with an entitled highmem-capable caller: fast path
  // HIGHMEM down to its low mark (224 pages), NORMAL down to 0 + 8 (248),
  // slow path finds nothing more, then NO_WATERMARKS: HIGHMEM's last 32,
  // NORMAL's last 8 (those 40 are tagged).
  const AllocContext ctx = GfpCtx(kGfpMemalloc | kGfpHighmem);
  std::vector<Pfn> pfns;
  for (;;) {
    const Pfn pfn = model.AllocPages(0, ctx);
    if (pfn == kNoPfn) break;
    pfns.push_back(pfn);
  }
  ASSERT_EQ(pfns.size(), 512u);
  auto in_high = [](Pfn pfn) { return pfn >= 256; };
  for (size_t i = 0; i < 512; ++i) {
    const bool expect_high = i < 224 || (i >= 472 && i < 504);
    EXPECT_EQ(in_high(pfns[i]), expect_high) << "allocation " << i;
    const bool expect_tag = i >= 472;
    EXPECT_EQ(static_cast<bool>(model.pages().frame(pfns[i]).flags &
                                kPagePfmemalloc),
              expect_tag)
        << "allocation " << i;
  }
  EXPECT_EQ(normal.pfmemalloc_pages, 8u);
  EXPECT_EQ(high.pfmemalloc_pages, 32u);

  for (Pfn pfn = 0; pfn < 512; ++pfn) {
    if (pfn != 255 && pfn != 256) model.FreePages(pfn, 0);
  }
  // NORMAL without 255: 0 (order 7), 128 (6), ..., 252 (1), 254 (0).
  // HIGHMEM without 256: 257 (0), 258 (1), 260 (2), ..., 384 (7).
  for (int order = 0; order < 8; ++order) {
    EXPECT_EQ(normal.free_area[order].nr_free, 1u) << "order " << order;
    EXPECT_EQ(normal.free_area[order].head, 256u - (2u << order));
    EXPECT_EQ(high.free_area[order].nr_free, 1u) << "order " << order;
    EXPECT_EQ(high.free_area[order].head, 256u + (1u << order));
  }
  EXPECT_EQ(normal.free_area[8].nr_free, 0u);
  EXPECT_EQ(high.free_area[8].nr_free, 0u);
  EXPECT_EQ(normal.free_pages, 255u);
  EXPECT_EQ(high.free_pages, 255u);

  model.FreePages(255, 0);
  for (int order = 0; order < 8; ++order) {
    EXPECT_EQ(normal.free_area[order].nr_free, 0u);
    EXPECT_EQ(high.free_area[order].nr_free, 1u) << "HIGHMEM changed";
  }
  EXPECT_EQ(normal.free_area[8].nr_free, 1u);
  EXPECT_EQ(normal.free_area[8].head, 0u);
  EXPECT_EQ(high.free_pages, 255u);

  model.FreePages(256, 0);
  EXPECT_EQ(high.free_area[8].nr_free, 1u);
  EXPECT_EQ(high.free_area[8].head, 256u);
  EXPECT_EQ(normal.free_area[8].nr_free, 1u);
  EXPECT_EQ(model.pages().pfmemalloc_pages(), 0u);
  EXPECT_TRUE(model.pages().IsPristine());
}

TEST(BuddyZoneTest, BoundaryBlocksOfEveryOrderStayInTheirZone) {
  Model model(BuddyConfig(8, 256, 256));
  // The last block of NORMAL and the first of HIGHMEM at each order are
  // buddies of nothing across the boundary; allocate and free them pairwise.
  for (int order = 0; order <= 7; ++order) {
    // Fill NORMAL completely except the top block of this order, then take
    // that block with a NORMAL-only request.
    std::vector<test::PageBlock> normal_fill;
    Pfn top = kNoPfn;
    for (;;) {
      const Pfn pfn = model.AllocPages(order, KernelCtx());
      if (pfn == kNoPfn) break;
      normal_fill.push_back({pfn, order});
      if (pfn == 256u - (1u << order)) top = pfn;
    }
    ASSERT_NE(top, kNoPfn) << "order " << order;
    // HIGHMEM's first block of this order, entitled so HIGHMEM's min does
    // not stand in the way.
    const Pfn first_high = model.AllocPages(order, GfpCtx(kGfpMemalloc | kGfpHighmem));
    ASSERT_EQ(first_high, 256u) << "order " << order;
    model.FreePages(first_high, order);
    model.FreePages(top, order);
    for (const test::PageBlock& block : normal_fill) {
      if (block.pfn != top) model.FreePages(block.pfn, block.order);
    }
    EXPECT_EQ(model.pages().zone(kZoneNormal).free_area[8].nr_free, 1u);
    EXPECT_EQ(model.pages().zone(kZoneHighmem).free_area[8].nr_free, 1u);
    EXPECT_TRUE(model.pages().IsPristine()) << "order " << order;
  }
}

// ---------------------------------------------------------------------------
// Watermark arithmetic.

struct WatermarkCase {
  uint32_t normal_pages;
  uint32_t highmem_pages;
  int64_t min_free_kbytes;
  int scale_factor;
  uint64_t normal_wmark[3];
  uint64_t high_wmark[3];
  uint64_t lowmem_reserve;  // NORMAL's reserve against HIGHMEM requests
};

// __setup_per_zone_wmarks():
//   pages_min = min_free_kbytes >> 2
//   tmp = pages_min * managed / lowmem_pages
//   min = tmp (NORMAL) or clamp(managed / 1024, 32, 128) (HIGHMEM)
//   tmp = max(tmp >> 2, managed * scale / 10000)   -- tmp NOT capped for
//   low = min + tmp, high = low + tmp                 HIGHMEM (the kernel's
//                                                     comment says so)
// init_per_zone_wmark_min(): min_free_kbytes = clamp(sqrt(lowmem_kb * 16),
// 128, 262144). setup_per_zone_lowmem_reserve(): HIGHMEM managed / 32.
const WatermarkCase kWatermarkCases[] = {
    // 16 MiB: sqrt(16384 * 16) = 512 kB -> 128 pages; tmp 128 >> 2 = 32
    // (scaled 4096 * 10 / 10000 = 4).
    {4096, 0, -1, 10, {128, 160, 192}, {}, 0},
    // 4 MiB + 4 MiB: sqrt(4096 * 16) = 256 kB -> 64 pages. NORMAL: 64, +16.
    // HIGHMEM: tmp = 64 * 1024 / 1024 = 64, min 32, delta max(16, 1) = 16.
    {1024, 1024, -1, 10, {64, 80, 96}, {32, 48, 64}, 32},
    // Explicit 1000 kB -> 250 pages; delta max(62, 2048 * 100 / 10000 = 20).
    {2048, 0, 1000, 100, {250, 312, 374}, {}, 0},
    // sqrt(32768 * 16) = 724.07 -> 724 kB -> 181 pages; the scale factor
    // wins: max(45, 8192 * 300 / 10000 = 245).
    {8192, 0, -1, 300, {181, 426, 671}, {}, 0},
    // Tiny: sqrt(256 * 16) = 64 kB, clamped up to 128 kB -> 32 pages.
    {64, 0, -1, 10, {32, 40, 48}, {}, 0},
    // 2000 kB -> 500 pages. NORMAL 3072: 500, delta max(125, 3) = 125.
    // HIGHMEM 1024: tmp = 500 * 1024 / 3072 = 166, min 32,
    // delta max(41, 1) = 41. lowmem_reserve 1024 / 32 = 32.
    {3072, 1024, 2000, 10, {500, 625, 750}, {32, 73, 114}, 32},
    // 1024 kB -> 256 pages; HIGHMEM of 1 GiB: min clamp(256, 32, 128) = 128,
    // tmp = 256 * 262144 / 1024 = 65536, delta max(16384, 262) = 16384.
    {1024, 262144, 1024, 10, {256, 320, 384}, {128, 16512, 32896}, 8192},
};

TEST(WatermarkTest, SetupZoneWatermarksMatchesKernelFormulas) {
  for (const WatermarkCase& c : kWatermarkCases) {
    Zone zones[kMaxZones];
    zones[0].index = kZoneNormal;
    zones[0].managed_pages = c.normal_pages;
    int nr_zones = 1;
    if (c.highmem_pages > 0) {
      zones[1].index = kZoneHighmem;
      zones[1].managed_pages = c.highmem_pages;
      nr_zones = 2;
    }
    SetupZoneWatermarks(zones, nr_zones, c.min_free_kbytes, c.scale_factor, 32);
    SCOPED_TRACE(::testing::Message() << "normal " << c.normal_pages
                                      << " highmem " << c.highmem_pages);
    for (int w = 0; w < 3; ++w) {
      EXPECT_EQ(zones[0].watermark[w], c.normal_wmark[w]) << "NORMAL w" << w;
      if (nr_zones == 2) {
        EXPECT_EQ(zones[1].watermark[w], c.high_wmark[w]) << "HIGHMEM w" << w;
      }
    }
    EXPECT_EQ(zones[0].lowmem_reserve[kZoneNormal], 0u);
    EXPECT_EQ(zones[0].lowmem_reserve[kZoneHighmem], c.lowmem_reserve);
    if (nr_zones == 2) {
      EXPECT_EQ(zones[1].lowmem_reserve[kZoneNormal], 0u);
      EXPECT_EQ(zones[1].lowmem_reserve[kZoneHighmem], 0u);
    }
  }
}

TEST(WatermarkTest, ModelZonesGetTheseWatermarks) {
  ModelConfig config;
  config.normal_pages = 1024;
  config.highmem_pages = 1024;
  Model model(config);
  const Zone& normal = model.pages().zone(kZoneNormal);
  const Zone& high = model.pages().zone(kZoneHighmem);
  EXPECT_EQ(normal.watermark[kAllocWmarkMin], 64u);
  EXPECT_EQ(normal.watermark[kAllocWmarkLow], 80u);
  EXPECT_EQ(normal.watermark[kAllocWmarkHigh], 96u);
  EXPECT_EQ(high.watermark[kAllocWmarkMin], 32u);
  EXPECT_EQ(high.watermark[kAllocWmarkLow], 48u);
  EXPECT_EQ(high.watermark[kAllocWmarkHigh], 64u);
  EXPECT_EQ(normal.lowmem_reserve[kZoneHighmem], 32u);
}

TEST(WatermarkTest, DefaultMinFreeKbytes) {
  EXPECT_EQ(DefaultMinFreeKbytes(16384), 512);     // sqrt(262144)
  EXPECT_EQ(DefaultMinFreeKbytes(4096), 256);      // sqrt(65536)
  EXPECT_EQ(DefaultMinFreeKbytes(1000), 128);      // sqrt(16000) = 126 -> 128
  EXPECT_EQ(DefaultMinFreeKbytes(0), 128);
  EXPECT_EQ(DefaultMinFreeKbytes(1000000), 4000);  // sqrt(16e6)
  EXPECT_EQ(DefaultMinFreeKbytes(uint64_t{1} << 32), 262144);  // 2^18
  EXPECT_EQ(DefaultMinFreeKbytes(uint64_t{1} << 34), 262144);  // clamped
}

// __zone_watermark_ok() on a hand-built zone.
class ZoneWatermarkOkTest : public ::testing::Test {
 protected:
  ZoneWatermarkOkTest() {
    zone_.index = kZoneNormal;
    zone_.managed_pages = 1024;
  }
  bool Ok(uint64_t free, int order, uint64_t mark, uint32_t flags,
          int classzone = kZoneNormal) {
    zone_.free_pages = free;
    return ZoneWatermarkOk(zone_, order, mark, classzone, flags, kMaxOrderLimit);
  }
  Zone zone_;
};

TEST_F(ZoneWatermarkOkTest, PlainRequestNeedsMoreThanTheMark) {
  EXPECT_TRUE(Ok(101, 0, 100, kAllocWmarkMin));
  EXPECT_FALSE(Ok(100, 0, 100, kAllocWmarkMin));
  EXPECT_FALSE(Ok(0, 0, 0, kAllocWmarkMin));
  EXPECT_TRUE(Ok(1, 0, 0, kAllocWmarkMin));
  // Non-blocking alone relaxes nothing (GFP_NOWAIT).
  EXPECT_TRUE(Ok(101, 0, 100, kAllocNonBlock));
  EXPECT_FALSE(Ok(100, 0, 100, kAllocNonBlock));
}

TEST_F(ZoneWatermarkOkTest, Relaxations) {
  // __GFP_HIGH: min -= min / 2 -> 50.
  EXPECT_TRUE(Ok(51, 0, 100, kAllocHigh));
  EXPECT_FALSE(Ok(50, 0, 100, kAllocHigh));
  // GFP_ATOMIC: then min -= min / 4 -> 50 - 12 = 38.
  EXPECT_TRUE(Ok(39, 0, 100, kAllocHigh | kAllocNonBlock));
  EXPECT_FALSE(Ok(38, 0, 100, kAllocHigh | kAllocNonBlock));
  // Odd mark 101: 101 - 50 = 51; 51 - 12 = 39.
  EXPECT_TRUE(Ok(52, 0, 101, kAllocHigh));
  EXPECT_FALSE(Ok(51, 0, 101, kAllocHigh));
  EXPECT_TRUE(Ok(40, 0, 101, kAllocHigh | kAllocNonBlock));
  EXPECT_FALSE(Ok(39, 0, 101, kAllocHigh | kAllocNonBlock));
  // ALLOC_OOM: min -= min / 2.
  EXPECT_TRUE(Ok(51, 0, 100, kAllocOom));
  EXPECT_FALSE(Ok(50, 0, 100, kAllocOom));
  // Cumulative when combined: 100 -> 50 -> 25; 100 -> 50 -> 38 -> 19.
  EXPECT_TRUE(Ok(26, 0, 100, kAllocHigh | kAllocOom));
  EXPECT_FALSE(Ok(25, 0, 100, kAllocHigh | kAllocOom));
  EXPECT_TRUE(Ok(20, 0, 100, kAllocHigh | kAllocNonBlock | kAllocOom));
  EXPECT_FALSE(Ok(19, 0, 100, kAllocHigh | kAllocNonBlock | kAllocOom));
}

TEST_F(ZoneWatermarkOkTest, HigherOrdersSubtractTheirPagesAndNeedABlock) {
  // Order 3 counts 2^3 - 1 = 7 pages of the request: 108 - 7 = 101 > 100.
  zone_.free_area[2].nr_free = 27;  // only smaller blocks
  EXPECT_FALSE(Ok(108, 3, 100, kAllocWmarkMin));
  zone_.free_area[5].nr_free = 1;   // one block large enough
  EXPECT_TRUE(Ok(108, 3, 100, kAllocWmarkMin));
  EXPECT_FALSE(Ok(107, 3, 100, kAllocWmarkMin));  // 100 is not above 100
  zone_.free_area[5].nr_free = 0;
  zone_.free_area[3].nr_free = 1;   // exactly the order asked for
  EXPECT_TRUE(Ok(108, 3, 100, kAllocWmarkMin));
  // Order 0 never looks at the free areas.
  zone_.free_area[3].nr_free = 0;
  zone_.free_area[2].nr_free = 0;
  EXPECT_TRUE(Ok(101, 0, 100, kAllocWmarkMin));
}

TEST_F(ZoneWatermarkOkTest, LowmemReserveAppliesToHighmemCapableRequests) {
  zone_.lowmem_reserve[kZoneHighmem] = 16;
  // A request that could have used HIGHMEM (classzone HIGHMEM) falling back
  // to NORMAL must leave min + 16.
  EXPECT_TRUE(Ok(117, 0, 100, kAllocWmarkMin, kZoneHighmem));
  EXPECT_FALSE(Ok(116, 0, 100, kAllocWmarkMin, kZoneHighmem));
  // HIGH relaxes min, not the lowmem reserve: 50 + 16.
  EXPECT_TRUE(Ok(67, 0, 100, kAllocHigh, kZoneHighmem));
  EXPECT_FALSE(Ok(66, 0, 100, kAllocHigh, kZoneHighmem));
  // A NORMAL-only request does not pay it.
  EXPECT_TRUE(Ok(101, 0, 100, kAllocWmarkMin, kZoneNormal));
}

TEST_F(ZoneWatermarkOkTest, StrictReserveIsAddedAfterEveryRelaxation) {
  zone_.pages_emerg = 30;
  EXPECT_TRUE(Ok(131, 0, 100, kAllocWmarkMin));
  EXPECT_FALSE(Ok(130, 0, 100, kAllocWmarkMin));
  EXPECT_TRUE(Ok(81, 0, 100, kAllocHigh));
  EXPECT_FALSE(Ok(80, 0, 100, kAllocHigh));
  EXPECT_TRUE(Ok(50, 0, 100, kAllocHigh | kAllocNonBlock | kAllocOom));
  EXPECT_FALSE(Ok(49, 0, 100, kAllocHigh | kAllocNonBlock | kAllocOom));
}

// No combination of relaxations, mark, order or lowmem reserve lets a
// request leave fewer than pages_emerg pages free.
TEST_F(ZoneWatermarkOkTest, StrictReserveNeverReachableByAnyRelaxation) {
  const uint32_t relax[] = {kAllocHigh, kAllocNonBlock, kAllocOom};
  for (int bit = 0; bit <= kMaxOrderLimit; ++bit) zone_.free_area[bit].nr_free = 1;
  for (uint64_t emerg : {1u, 7u, 64u}) {
    zone_.pages_emerg = emerg;
    for (uint32_t combo = 0; combo < 8; ++combo) {
      uint32_t flags = kAllocWmarkMin;
      for (int i = 0; i < 3; ++i) {
        if (combo & (1u << i)) flags |= relax[i];
      }
      for (uint64_t mark : {0u, 1u, 3u, 100u}) {
        for (int order = 0; order <= 4; ++order) {
          for (int classzone : {0, 1}) {
            for (uint64_t free = 0; free < emerg + 40; ++free) {
              const bool ok = Ok(free, order, mark, flags, classzone);
              if (free < emerg + (uint64_t{1} << order)) {
                ASSERT_FALSE(ok) << "free " << free << " order " << order
                                 << " emerg " << emerg << " flags " << flags;
              }
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// The allocation path.

// One zone of 1024 pages, min_free_kbytes 400: min = 400 >> 2 = 100,
// low = 100 + max(25, 1024 * 10 / 10000 = 1) = 125, high = 150.
ModelConfig PathConfig() {
  ModelConfig config;
  config.normal_pages = 1024;
  config.max_order = 8;
  config.min_free_kbytes = 400;
  config.nr_cpus = 2;
  config.audit = AuditLevel::kFull;
  return config;
}

// Allocates order-0 pages with `ctx` until one fails; returns how many.
int AllocUntilFailure(Model& model, const AllocContext& ctx,
                      std::vector<Pfn>* pfns, int* tagged = nullptr) {
  int count = 0;
  for (;;) {
    const PageAllocResult result = model.pages().AllocPages(0, ctx, "test");
    if (result.pfn == kNoPfn) return count;
    const bool tag = model.pages().frame(result.pfn).flags & kPagePfmemalloc;
    EXPECT_EQ(tag, result.via_no_watermarks) << "pfn " << result.pfn;
    if (tagged != nullptr && tag) ++*tagged;
    pfns->push_back(result.pfn);
    ++count;
  }
}

TEST(AllocPathTest, WatermarksPerContext) {
  Model model(PathConfig());
  const Zone& zone = model.pages().zone(kZoneNormal);
  ASSERT_EQ(zone.watermark[kAllocWmarkMin], 100u);
  ASSERT_EQ(zone.watermark[kAllocWmarkLow], 125u);
  ASSERT_EQ(zone.watermark[kAllocWmarkHigh], 150u);
  std::vector<Pfn> pfns;
  int tagged = 0;

  // GFP_KERNEL: fast path to low (899), slow path to min (25 more).
  EXPECT_EQ(AllocUntilFailure(model, KernelCtx(), &pfns, &tagged), 924);
  EXPECT_EQ(zone.free_pages, 100u);
  // __GFP_HIGH, blocking: min / 2 = 50.
  EXPECT_EQ(AllocUntilFailure(model, GfpCtx(kGfpHigh | kGfpDirectReclaim), &pfns, &tagged), 50);
  // GFP_ATOMIC | __GFP_NOMEMALLOC: no ALLOC_NON_BLOCK, so still 50.
  EXPECT_EQ(AllocUntilFailure(model, GfpCtx(kGfpAtomic | kGfpNoMemalloc), &pfns, &tagged), 0);
  // GFP_ATOMIC: 50 - 50 / 4 = 38.
  EXPECT_EQ(AllocUntilFailure(model, GfpCtx(kGfpAtomic), &pfns, &tagged), 12);
  EXPECT_EQ(zone.free_pages, 38u);
  // An OOM victim (task context) that may block: ALLOC_OOM, 100 / 2 = 50.
  AllocContext oom = KernelCtx();
  oom.oom_victim = true;
  EXPECT_EQ(AllocUntilFailure(model, oom, &pfns, &tagged), 0);
  // An OOM victim in softirq gets no ALLOC_OOM: atomic 38.
  AllocContext oom_softirq = GfpCtx(kGfpAtomic);
  oom_softirq.oom_victim = true;
  oom_softirq.in_softirq = true;
  EXPECT_EQ(AllocUntilFailure(model, oom_softirq, &pfns, &tagged), 0);
  // An atomic OOM victim: 100 -> 50 -> 38 -> 19.
  AllocContext oom_atomic = GfpCtx(kGfpAtomic);
  oom_atomic.oom_victim = true;
  EXPECT_EQ(AllocUntilFailure(model, oom_atomic, &pfns, &tagged), 19);
  EXPECT_EQ(zone.free_pages, 19u);
  EXPECT_EQ(tagged, 0);

  // __GFP_NOMEMALLOC wins over __GFP_MEMALLOC and over PF_MEMALLOC.
  EXPECT_EQ(AllocUntilFailure(model, GfpCtx(kGfpAtomic | kGfpMemalloc | kGfpNoMemalloc), &pfns, &tagged), 0);
  AllocContext pf_nomemalloc = GfpCtx(kGfpAtomic | kGfpNoMemalloc);
  pf_nomemalloc.pf_memalloc = true;
  EXPECT_EQ(AllocUntilFailure(model, pf_nomemalloc, &pfns, &tagged), 0);

  // Entitled callers reach the rest through NO_WATERMARKS, tagged.
  std::vector<AllocContext> entitled;
  AllocContext pf_softirq = KernelCtx();
  pf_softirq.pf_memalloc = true;
  pf_softirq.in_softirq = true;
  entitled.push_back(pf_softirq);
  AllocContext pf_task = KernelCtx(1);
  pf_task.pf_memalloc = true;
  entitled.push_back(pf_task);
  entitled.push_back(GfpCtx(kGfpAtomic | kGfpMemalloc));
  for (const AllocContext& ctx : entitled) {
    const PageAllocResult result = model.pages().AllocPages(0, ctx, "test");
    ASSERT_NE(result.pfn, kNoPfn);
    EXPECT_TRUE(result.via_no_watermarks);
    EXPECT_TRUE(model.pages().frame(result.pfn).flags & kPagePfmemalloc);
    pfns.push_back(result.pfn);
  }
  EXPECT_EQ(AllocUntilFailure(model, MemallocCtx(), &pfns, &tagged), 16);
  EXPECT_EQ(zone.free_pages, 0u);
  EXPECT_EQ(model.pages().pfmemalloc_pages(), 19u);
  EXPECT_EQ(model.pages().stats().alloc_no_watermarks, 19u);
  for (Pfn pfn : pfns) model.FreePages(pfn, 0);
  EXPECT_TRUE(model.pages().IsPristine());
}

// The fast path tries every zone at LOW before the slow path tries any at
// MIN. Two zones of 512 pages, min_free_kbytes 400 (100 pages):
//   NORMAL  min 100, low 100 + max(25, 0) = 125, lowmem_reserve 512/32 = 16
//   HIGHMEM min clamp(0, 32, 128) = 32, low 32 + max(100 >> 2, 0) = 57
TEST(AllocPathTest, FastPathAtLowBeforeSlowPathAtMinAcrossZones) {
  ModelConfig config;
  config.normal_pages = 512;
  config.highmem_pages = 512;
  config.max_order = 8;
  config.min_free_kbytes = 400;
  config.audit = AuditLevel::kCheap;
  Model model(config);
  const Zone& normal = model.pages().zone(kZoneNormal);
  const Zone& high = model.pages().zone(kZoneHighmem);
  ASSERT_EQ(normal.watermark[kAllocWmarkLow], 125u);
  ASSERT_EQ(high.watermark[kAllocWmarkMin], 32u);
  ASSERT_EQ(high.watermark[kAllocWmarkLow], 57u);
  ASSERT_EQ(normal.lowmem_reserve[kZoneHighmem], 16u);

  // Runs of (zone, count) the allocations come from, in order.
  auto runs = [&](const AllocContext& ctx) {
    std::vector<std::pair<int, int>> out;
    for (;;) {
      const Pfn pfn = model.AllocPages(0, ctx);
      if (pfn == kNoPfn) break;
      const int z = pfn >= 512 ? 1 : 0;
      if (out.empty() || out.back().first != z) out.push_back({z, 0});
      ++out.back().second;
    }
    return out;
  };
  using Runs = std::vector<std::pair<int, int>>;
  // Highmem-capable GFP_KERNEL: HIGHMEM 512 -> 57 (455) and NORMAL
  // 512 -> 125 + 16 (371) at LOW; then HIGHMEM 57 -> 32 (25) and NORMAL
  // 141 -> 100 + 16 (25) at MIN.
  EXPECT_EQ(runs(GfpCtx(kGfpKernel | kGfpHighmem)),
            (Runs{{1, 455}, {0, 371}, {1, 25}, {0, 25}}));
  // NORMAL-only GFP_KERNEL does not pay the lowmem reserve: 116 -> 100.
  EXPECT_EQ(runs(KernelCtx()), (Runs{{0, 16}}));
  // Highmem-capable GFP_ATOMIC: HIGHMEM 32 -> 32 - 16 - 4 = 12 (20), NORMAL
  // 100 -> 38 + 16 = 54 (46).
  EXPECT_EQ(runs(GfpCtx(kGfpAtomic | kGfpHighmem)), (Runs{{1, 20}, {0, 46}}));
  // NORMAL-only GFP_ATOMIC: 54 -> 38.
  EXPECT_EQ(runs(GfpCtx(kGfpAtomic)), (Runs{{0, 16}}));
  EXPECT_EQ(model.pages().pfmemalloc_pages(), 0u);
  // Entitled and highmem-capable: NO_WATERMARKS, HIGHMEM first.
  EXPECT_EQ(runs(GfpCtx(kGfpAtomic | kGfpHighmem | kGfpMemalloc)),
            (Runs{{1, 12}, {0, 38}}));
  EXPECT_EQ(high.pfmemalloc_pages, 12u);
  EXPECT_EQ(normal.pfmemalloc_pages, 38u);
  EXPECT_EQ(model.pages().free_pages(), 0u);
}

TEST(AllocPathTest, EntitledCallerAboveTheWatermarkIsNotTagged) {
  Model model(PathConfig());
  std::vector<Pfn> pfns;
  int tagged = 0;
  // __GFP_MEMALLOC without __GFP_DIRECT_RECLAIM: the slow path gets
  // ALLOC_NON_BLOCK but no __GFP_HIGH, so no relaxation: 1024 -> 100 with
  // ordinary watermarks, untagged; only then NO_WATERMARKS.
  for (int i = 0; i < 924; ++i) {
    const PageAllocResult result =
        model.pages().AllocPages(0, GfpCtx(kGfpMemalloc), "test");
    ASSERT_NE(result.pfn, kNoPfn);
    ASSERT_FALSE(result.via_no_watermarks) << "allocation " << i;
    ASSERT_FALSE(model.pages().frame(result.pfn).flags & kPagePfmemalloc);
    pfns.push_back(result.pfn);
  }
  EXPECT_EQ(AllocUntilFailure(model, GfpCtx(kGfpMemalloc), &pfns, &tagged), 100);
  EXPECT_EQ(tagged, 100);
  for (Pfn pfn : pfns) model.FreePages(pfn, 0);
  EXPECT_TRUE(model.pages().IsPristine());
}

// A page tagged on one allocation is untagged when allocated again without
// NO_WATERMARKS. From pristine, order-0 allocations take pfns 0, 1, 2, ...
// so after 924 kernel pages the free pages are 924..1023: blocks 924 (order
// 2), 928 (order 5), 960 (order 6).
TEST(AllocPathTest, TagIsClearedOnReuse) {
  Model model(PathConfig());
  std::vector<Pfn> kernel;
  ASSERT_EQ(AllocUntilFailure(model, KernelCtx(), &kernel), 924);
  ASSERT_EQ(kernel.back(), 923u);
  // Below min: entitled pages come through NO_WATERMARKS from the smallest
  // block, 924, split into 924 | 925 | 926-927.
  const Pfn x = model.AllocPages(0, MemallocCtx());
  const Pfn y = model.AllocPages(0, MemallocCtx());
  ASSERT_EQ(x, 924u);
  ASSERT_EQ(y, 925u);
  EXPECT_TRUE(model.pages().frame(x).flags & kPagePfmemalloc);
  EXPECT_EQ(model.pages().pfmemalloc_pages(), 2u);
  // Kernel pages 0 and 1 merge into an order-1 block (2 is allocated), so
  // the order-0 free list is empty until x goes back to it (y, its buddy,
  // is still allocated). 98 + 2 + 1 = 101 free: one above min.
  model.FreePages(0, 0);
  model.FreePages(1, 0);
  model.FreePages(x, 0);
  EXPECT_EQ(model.pages().pfmemalloc_pages(), 1u);
  ASSERT_EQ(model.pages().zone(kZoneNormal).free_pages, 101u);
  ASSERT_EQ(model.pages().zone(kZoneNormal).free_area[0].head, x);
  const PageAllocResult again = model.pages().AllocPages(0, KernelCtx(), "test");
  ASSERT_EQ(again.pfn, x);
  EXPECT_FALSE(again.via_no_watermarks);
  EXPECT_FALSE(model.pages().frame(x).flags & kPagePfmemalloc);
  EXPECT_EQ(model.pages().pfmemalloc_pages(), 1u);
  model.AuditFull();
}

TEST(AllocPathTest, NoFailGetsMinReserveButNotTheStrictReserve) {
  Model model(PathConfig());
  std::vector<Pfn> pfns;
  ASSERT_EQ(AllocUntilFailure(model, KernelCtx(), &pfns), 924);
  // __GFP_NOFAIL retries once with ALLOC_MIN_RESERVE: 100 / 2 = 50.
  EXPECT_EQ(AllocUntilFailure(model, GfpCtx(kGfpKernel | kGfpNoFail), &pfns), 50);
  EXPECT_EQ(model.pages().stats().nofail_failed, 1u);
  for (Pfn pfn : pfns) model.FreePages(pfn, 0);
}

TEST(AllocPathTest, UnentitledCallersNeverReachTheStrictReserve) {
  struct Case {
    const char* name;
    AllocContext ctx;
    uint64_t floor;  // relaxed min + 200
  };
  AllocContext oom_atomic = GfpCtx(kGfpAtomic);
  oom_atomic.oom_victim = true;
  AllocContext pf_nomemalloc = GfpCtx(kGfpAtomic | kGfpNoMemalloc);
  pf_nomemalloc.pf_memalloc = true;
  const Case cases[] = {
      {"kernel", KernelCtx(), 300},
      {"high", GfpCtx(kGfpHigh | kGfpDirectReclaim), 250},
      {"atomic", GfpCtx(kGfpAtomic), 238},
      {"oom atomic", oom_atomic, 219},
      {"nofail", GfpCtx(kGfpKernel | kGfpNoFail), 250},
      {"memalloc+nomemalloc", GfpCtx(kGfpAtomic | kGfpMemalloc | kGfpNoMemalloc), 250},
      {"pf_memalloc+nomemalloc", pf_nomemalloc, 250},
  };
  for (const Case& c : cases) {
    Model model(PathConfig());
    const ReserveId node = model.reserves().Create("emergency", kRootReserve);
    ASSERT_EQ(model.reserves().PagesSet(node, 200), ReserveStatus::kOk);
    ASSERT_EQ(model.pages().strict_reserve(), 200u);
    std::vector<Pfn> pfns;
    AllocUntilFailure(model, c.ctx, &pfns);
    // Higher orders too: none may dig below the floor either.
    for (int order = 1; order <= 3; ++order) {
      for (;;) {
        const Pfn pfn = model.AllocPages(order, c.ctx);
        if (pfn == kNoPfn) break;
        EXPECT_GE(model.pages().free_pages(), 200u) << c.name;
      }
    }
    EXPECT_EQ(model.pages().free_pages(), c.floor) << c.name;
    EXPECT_EQ(model.pages().pfmemalloc_pages(), 0u) << c.name;
    // Only an entitled caller goes further.
    EXPECT_NE(model.AllocPages(0, MemallocCtx()), kNoPfn) << c.name;
    EXPECT_EQ(model.pages().free_pages(), c.floor - 1) << c.name;
  }
}

TEST(AllocPathTest, InvalidOrdersFail) {
  Model model(PathConfig());
  EXPECT_EQ(model.AllocPages(-1, KernelCtx()), kNoPfn);
  EXPECT_EQ(model.AllocPages(9, KernelCtx()), kNoPfn);  // max_order is 8
  EXPECT_EQ(model.pages().stats().alloc_fail, 2u);
  EXPECT_NE(model.AllocPages(8, KernelCtx()), kNoPfn);
}

TEST(AllocPathTest, ZeroFlagZeroesTheWholeBlock) {
  Model model(BuddyConfig(4, 32));
  const Pfn pfn = model.AllocPages(2, KernelCtx());
  ASSERT_EQ(pfn, 0u);
  std::memset(model.pages().PageAddress(pfn), 0xAB, 4 * kPageSize);
  model.FreePages(pfn, 2);
  // The same block comes back (pristine zone, same request).
  const Pfn again = model.AllocPages(2, GfpCtx(kGfpKernel | kGfpZero));
  ASSERT_EQ(again, pfn);
  const uint8_t* bytes = static_cast<const uint8_t*>(model.pages().PageAddress(again));
  for (size_t i = 0; i < 4 * kPageSize; ++i) {
    ASSERT_EQ(bytes[i], 0) << "byte " << i;
  }
}

// ---------------------------------------------------------------------------
// The strict reserve.

// These drive PageAllocator directly: the reserve tree (which would keep the
// root's pages equal to the strict reserve) is not involved.
TEST(StrictReserveTest, RefusedWhenTheZoneCannotHoldIt) {
  Model model(PathConfig());
  // The zone must hold min (100) + the reserve: 1024 - 100 = 924 at most.
  EXPECT_FALSE(model.pages().SetStrictReserve(925));
  EXPECT_EQ(model.pages().strict_reserve(), 0u);
  EXPECT_EQ(model.pages().zone(kZoneNormal).pages_emerg, 0u);
  EXPECT_TRUE(model.pages().SetStrictReserve(924));
  EXPECT_EQ(model.pages().strict_reserve(), 924u);
  EXPECT_EQ(model.pages().zone(kZoneNormal).pages_emerg, 924u);
  // GFP_KERNEL needs more than min + reserve = 1024: nothing.
  EXPECT_EQ(model.pages().AllocPages(0, KernelCtx(), "test").pfn, kNoPfn);
  // GFP_ATOMIC relaxes min to 38, never the reserve: 1024 -> 962.
  std::vector<Pfn> pfns;
  EXPECT_EQ(AllocUntilFailure(model, GfpCtx(kGfpAtomic), &pfns), 62);
  EXPECT_EQ(model.pages().free_pages(), 962u);
  EXPECT_NE(model.pages().AllocPages(0, MemallocCtx(), "test").pfn, kNoPfn);
  EXPECT_TRUE(model.pages().SetStrictReserve(0));  // shrinking always works
}

TEST(StrictReserveTest, GrowthNeedsFreePagesNow) {
  Model model(PathConfig());
  for (int i = 0; i < 10; ++i) ASSERT_NE(model.pages().AllocPages(0, KernelCtx(), "test").pfn, kNoPfn);
  // 1014 free: 914 above min at most.
  EXPECT_FALSE(model.pages().SetStrictReserve(915));
  EXPECT_EQ(model.pages().strict_reserve(), 0u);
  EXPECT_TRUE(model.pages().SetStrictReserve(914));
  // An entitled page from the reserve: 1013 free. Keeping the same size is
  // no growth; growing by one is refused.
  const PageAllocResult result = model.pages().AllocPages(0, MemallocCtx(), "test");
  ASSERT_TRUE(result.via_no_watermarks);
  EXPECT_TRUE(model.pages().SetStrictReserve(914));
  EXPECT_FALSE(model.pages().SetStrictReserve(915));
  EXPECT_EQ(model.pages().strict_reserve(), 914u);
  EXPECT_TRUE(model.pages().SetStrictReserve(10));
  EXPECT_EQ(model.pages().zone(kZoneNormal).pages_emerg, 10u);
}

TEST(StrictReserveTest, HeldInNormalEvenWithHighmem) {
  ModelConfig config = PathConfig();
  config.normal_pages = 512;
  config.highmem_pages = 512;
  Model model(config);
  // NORMAL: 512 managed, min 100: at most 412, HIGHMEM does not count.
  EXPECT_FALSE(model.pages().SetStrictReserve(413));
  EXPECT_TRUE(model.pages().SetStrictReserve(412));
  EXPECT_EQ(model.pages().zone(kZoneNormal).pages_emerg, 412u);
  EXPECT_EQ(model.pages().zone(kZoneHighmem).pages_emerg, 0u);
}

// ---------------------------------------------------------------------------
// Reset.

// A script touching every layer; returns every pfn / offset it was handed.
std::vector<int64_t> RunScript(Model& model) {
  std::vector<int64_t> out;
  auto offset = [&](const void* p) {
    return p == nullptr ? -1
                        : static_cast<int64_t>(static_cast<const uint8_t*>(p) -
                                               model.pages().arena());
  };
  const ReserveId node = model.reserves().Create("r", kRootReserve);
  out.push_back(static_cast<int64_t>(model.reserves().PagesSet(node, 40)));
  // The estimator and the CPU count decide this one.
  const ReserveId sized = model.reserves().Create("sized", kRootReserve);
  out.push_back(static_cast<int64_t>(model.reserves().KmallocSet(sized, 5000)));
  out.push_back(static_cast<int64_t>(model.reserves().node(sized).own_pages));
  std::vector<test::PageBlock> blocks;
  for (int i = 0; i < 30; ++i) {
    const int order = i % 4;
    const Pfn pfn = model.AllocPages(order, i % 3 ? KernelCtx() : GfpCtx(kGfpAtomic));
    out.push_back(pfn);
    if (pfn != kNoPfn) blocks.push_back({pfn, order});
  }
  for (size_t i = 0; i < blocks.size(); i += 2) {
    model.FreePages(blocks[i].pfn, blocks[i].order);
  }
  void* small = model.Kmalloc(100, KernelCtx(1));
  void* large = model.Kmalloc(10000, KernelCtx());
  out.push_back(offset(small));
  out.push_back(offset(large));
  KmemCache* cache = model.KmemCacheCreate("script", 300, 64);
  void* object = model.KmemCacheAlloc(cache, KernelCtx());
  out.push_back(offset(object));
  std::vector<test::PageBlock> pressure = Exhaust(model, KernelCtx());
  out.push_back(static_cast<int64_t>(pressure.size()));
  for (int i = 0; i < 5; ++i) {
    const ReserveGrant grant = model.KmallocReserve(64, MemallocCtx(i % 2), node);
    out.push_back(offset(grant.object));
    out.push_back(grant.emergency);
  }
  out.push_back(static_cast<int64_t>(model.pages().pfmemalloc_pages()));
  out.push_back(static_cast<int64_t>(model.pages().free_pages()));
  return out;
}

void ExpectSameAsNew(Model& used, const ModelConfig& config) {
  Model fresh(config);
  const PageAllocator& a = used.pages();
  const PageAllocator& b = fresh.pages();
  ASSERT_EQ(a.nr_pages(), b.nr_pages());
  for (Pfn pfn = 0; pfn < a.nr_pages(); ++pfn) {
    const PageFrame& x = a.frame(pfn);
    const PageFrame& y = b.frame(pfn);
    ASSERT_TRUE(x.next == y.next && x.prev == y.prev && x.order == y.order &&
                x.flags == y.flags && x.reserved == y.reserved &&
                x.owner == y.owner)
        << "frame " << pfn << " differs after reset";
  }
  for (int z = 0; z < a.nr_zones(); ++z) {
    const Zone& x = a.zone(z);
    const Zone& y = b.zone(z);
    EXPECT_EQ(x.free_pages, y.free_pages);
    EXPECT_EQ(x.pages_emerg, y.pages_emerg);
    EXPECT_EQ(x.pfmemalloc_pages, y.pfmemalloc_pages);
    EXPECT_EQ(x.untouched_pfn, y.untouched_pfn);
    for (int w = 0; w < 3; ++w) EXPECT_EQ(x.watermark[w], y.watermark[w]);
    for (int order = 0; order <= kMaxOrderLimit; ++order) {
      EXPECT_EQ(x.free_area[order].head, y.free_area[order].head);
      EXPECT_EQ(x.free_area[order].nr_free, y.free_area[order].nr_free);
    }
  }
  EXPECT_EQ(a.strict_reserve(), 0u);
  EXPECT_EQ(a.stats().alloc_ok, 0u);
  EXPECT_EQ(a.stats().frees, 0u);
  for (int i = 0; i < kKmallocClasses; ++i) {
    const KmemCache* x = used.slab().KmallocCache(i);
    const KmemCache* y = fresh.slab().KmallocCache(i);
    EXPECT_TRUE(x->live && x->order == y->order && x->objects == y->objects &&
                x->cpu_partial_slabs == y->cpu_partial_slabs &&
                x->min_partial == y->min_partial && x->nr_slabs == 0)
        << x->name;
  }
  EXPECT_EQ(used.slab().policy(), fresh.slab().policy());
  EXPECT_EQ(used.slab().nr_cpus(), fresh.slab().nr_cpus());
  EXPECT_EQ(used.slab().nr_slabs(), 0u);
  EXPECT_EQ(used.slab().live_objects(), 0u);
  EXPECT_EQ(used.slab().CacheById(kKmallocClasses), nullptr);  // user cache gone
  EXPECT_FALSE(used.reserve_used_unaccounted());
  for (ReserveId id = 1; id < kMaxReserves; ++id) EXPECT_FALSE(used.reserves().IsLive(id));
  EXPECT_EQ(used.fault_gate().injected_total(), 0u);
}

TEST(ResetTest, ResetModelBehavesExactlyLikeANewOne) {
  ModelConfig config = PathConfig();
  config.highmem_pages = 256;
  Model model(config);
  const std::vector<int64_t> first = RunScript(model);
  ASSERT_GT(first.size(), 40u);
  EXPECT_GT(model.pages().pfmemalloc_pages(), 0u) << "the script must reach the reserve";
  model.Reset();
  EXPECT_TRUE(model.IsPristine());
  ExpectSameAsNew(model, config);
  const std::vector<int64_t> second = RunScript(model);
  EXPECT_EQ(first, second);
  Model fresh(config);
  EXPECT_EQ(RunScript(fresh), first);
  // Resetting twice, and resetting a pristine model, change nothing.
  model.Reset();
  model.Reset();
  ExpectSameAsNew(model, config);
  EXPECT_EQ(RunScript(model), first);
}

// Reset(config) into another config of the same arena: watermarks, CPUs,
// policy, estimator and audit level follow it exactly as if built anew.
TEST(ResetTest, ResetIntoAnotherConfigBehavesLikeANewOne) {
  ModelConfig first = PathConfig();
  first.highmem_pages = 256;
  ModelConfig second = first;
  second.min_free_kbytes = 1000;
  second.watermark_scale_factor = 200;
  second.nr_cpus = 3;
  second.slab_policy = SlabPolicy::kNoMixing;
  second.estimator = EstimatorKind::kTwiceNPlusM;
  second.audit = AuditLevel::kCheap;
  Model model(first);
  RunScript(model);
  model.Reset(second);
  ExpectSameAsNew(model, second);
  EXPECT_EQ(model.config().nr_cpus, 3);
  Model fresh(second);
  const std::vector<int64_t> expected = RunScript(fresh);
  EXPECT_EQ(RunScript(model), expected);
  // And back.
  model.Reset(first);
  ExpectSameAsNew(model, first);
  Model fresh_first(first);
  EXPECT_EQ(RunScript(model), RunScript(fresh_first));
}

// ---------------------------------------------------------------------------
// Misuse is reported.

class PageMisuseDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
  Model model_{BuddyConfig(4, 32)};
};

TEST_F(PageMisuseDeathTest, DoubleFree) {
  const Pfn pfn = model_.AllocPages(0, KernelCtx());
  const Pfn other = model_.AllocPages(0, KernelCtx());
  (void)other;
  model_.FreePages(pfn, 0);
  EXPECT_DEATH(model_.FreePages(pfn, 0), "RESERVOIR BUG: double-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: .*already free");
}

TEST_F(PageMisuseDeathTest, DoubleFreeAfterMerge) {
  const Pfn pfn = model_.AllocPages(1, KernelCtx());
  model_.FreePages(pfn, 1);  // merged back into a max-order block
  EXPECT_DEATH(model_.FreePages(pfn, 1), "RESERVOIR BUG: double-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: ");
  EXPECT_DEATH(model_.FreePages(pfn + 1, 0), "RESERVOIR BUG: double-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: ");
}

TEST_F(PageMisuseDeathTest, NeverAllocatedPageIsAlreadyFree) {
  EXPECT_DEATH(model_.FreePages(20, 0), "RESERVOIR BUG: double-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: ");
}

TEST_F(PageMisuseDeathTest, WrongOrder) {
  const Pfn pfn = model_.AllocPages(2, KernelCtx());
  EXPECT_DEATH(model_.FreePages(pfn, 1),
               "RESERVOIR BUG: invalid-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: .*allocated with order 2");
}

TEST_F(PageMisuseDeathTest, InteriorPage) {
  const Pfn pfn = model_.AllocPages(2, KernelCtx());
  EXPECT_DEATH(model_.FreePages(pfn + 1, 0),
               "RESERVOIR BUG: invalid-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: .*not the head");
}

TEST_F(PageMisuseDeathTest, OutsideTheArena) {
  EXPECT_DEATH(model_.FreePages(32, 0), "RESERVOIR BUG: invalid-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: .*outside the arena");
}

TEST_F(PageMisuseDeathTest, SlabPageFreedAsPages) {
  void* object = model_.Kmalloc(64, KernelCtx());
  const Pfn head = test::SlabHeadOf(model_, object);
  ASSERT_NE(head, kNoPfn);
  EXPECT_DEATH(model_.FreePages(head, model_.pages().frame(head).order),
               "RESERVOIR BUG: invalid-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: .*belongs to a slab");
}

TEST_F(PageMisuseDeathTest, LargeKmallocFreedAsPages) {
  void* object = model_.Kmalloc(9000, KernelCtx());  // order 2
  const Pfn pfn = model_.pages().AddressToPfn(object);
  EXPECT_DEATH(model_.FreePages(pfn, 2), "RESERVOIR BUG: invalid-free: [a-z0-9_./-]+\nRESERVOIR DETAIL: .*belongs to kmalloc");
}

}  // namespace
}  // namespace reservoir
