// The watermark recomputation of the executor (see watermark_judge.h).
#include "reservoir/exec/watermark_judge.h"

#include <cstdint>

namespace reservoir::exec {
namespace {

// Zone indices as in the model: 0 = Normal, 1 = HighMem.
constexpr int kNormal = 0;
constexpr int kHighMem = 1;

// Whether a block of `order` exists at all (what NO_WATERMARKS needs, and
// what the watermark test asks of order > 0).
// free_orders has no bit above the zone's max_order, so any bit at or
// above `order` is a block of `order` or larger.
bool HasBlock(const ZoneView& zone, int order) {
  return order >= 0 && order <= kMaxOrderLimit &&
         (zone.free_orders >> order) != 0;
}

// One zone's watermark test for an attempt with `mark` pages and the
// relaxations given: the request's own pages but one are not counted as
// free; __GFP_HIGH halves the mark, a non-blocking high request takes a
// further quarter, an OOM victim a further half; then the zone keeps back
// its lowmem_reserve for the request's class zone and the strict reserve,
// which no relaxation reaches.
bool PassesMark(const ZoneView& zone, int order, uint64_t mark, int classzone,
                bool high, bool non_block, bool oom) {
  int64_t min = static_cast<int64_t>(mark);
  if (high) {
    min -= min / 2;
    if (non_block) min -= min / 4;
  }
  if (oom) min -= min / 2;
  const int64_t floor = min +
                        static_cast<int64_t>(zone.lowmem_reserve[classzone]) +
                        static_cast<int64_t>(zone.pages_emerg);
  const int64_t usable =
      static_cast<int64_t>(zone.free) - ((int64_t{1} << order) - 1);
  if (usable <= floor) return false;
  return order == 0 || HasBlock(zone, order);
}

// What a request's attempts are made of: its class zone and relaxations.
struct Request {
  int classzone = kNormal;
  bool high = false;
  bool non_block = false;
  bool oom = false;
};

Request RequestOf(const LevelsView& levels, const AllocContext& ctx) {
  Request r;
  const bool highmem = (ctx.gfp & kGfpHighmem) && levels.nr_zones == 2;
  r.classzone = highmem ? kHighMem : kNormal;
  r.high = ctx.gfp & kGfpHigh;
  // A request that forbids reserves is not treated as atomic: the model's
  // wrappers and the no-mixing first pass add __GFP_NOMEMALLOC to say "only
  // what anyone may have".
  r.non_block = !(ctx.gfp & kGfpDirectReclaim) && !(ctx.gfp & kGfpNoMemalloc);
  r.oom = GfpReserveAccess(ctx) == ReserveAccess::kOom;
  return r;
}

}  // namespace

WatermarkJudgement JudgeWatermarks(const LevelsView& levels, int order,
                                   const AllocContext& ctx) {
  WatermarkJudgement j;
  const Request r = RequestOf(levels, ctx);
  j.classzone = r.classzone;
  const bool high = r.high;
  const bool non_block = r.non_block;
  const bool oom = r.oom;
  // The zonelist: the highest usable zone first, then the lower ones.
  for (int z = j.classzone; z >= 0; --z) {
    const ZoneView& zone = levels.zone[z];
    if (j.fast_zone < 0 &&
        PassesMark(zone, order, zone.watermark[1], j.classzone, false, false,
                   false)) {
      j.fast_zone = z;
    }
    if (j.slow_zone < 0 &&
        PassesMark(zone, order, zone.watermark[0], j.classzone, high,
                   non_block, oom)) {
      j.slow_zone = z;
    }
    if (j.reserve_zone < 0 && HasBlock(zone, order)) {
      j.reserve_zone = z;
    }
    if (j.nofail_zone < 0 &&
        PassesMark(zone, order, zone.watermark[0], j.classzone, true,
                   false, false)) {
      j.nofail_zone = z;
    }
  }
  return j;
}

bool ExpectPage(const WatermarkJudgement& judgement, const AllocContext& ctx,
                ExpectedPage* out) {
  if (judgement.fits_normal()) {
    out->zone = judgement.normal_zone();
    out->via_no_watermarks = false;
    return true;
  }
  if (IsEntitled(ctx) && judgement.reserve_zone >= 0) {
    out->zone = judgement.reserve_zone;
    out->via_no_watermarks = true;
    return true;
  }
  if ((ctx.gfp & kGfpNoFail) && judgement.nofail_zone >= 0) {
    out->zone = judgement.nofail_zone;
    out->via_no_watermarks = false;
    return true;
  }
  return false;
}

// The same attempts in the same order as JudgeWatermarks() and
// ExpectPage(): the first zone (class zone down to Normal) passing the low
// mark unrelaxed, else the first passing the min mark with the request's
// relaxations, else for an entitled request the first with a block of the
// order, else for __GFP_NOFAIL the first passing min relaxed for HIGH.
bool ExpectPageFor(const LevelsView& levels, int order, const AllocContext& ctx,
                   ExpectedPage* out) {
  const Request r = RequestOf(levels, ctx);
  // The first zone from the class zone down that passes `mark` (0 min,
  // 1 low) with the given relaxations, or -1.
  auto first_passing = [&](int mark, bool high, bool non_block, bool oom) {
    for (int z = r.classzone; z >= 0; --z) {
      const ZoneView& zone = levels.zone[z];
      if (PassesMark(zone, order, zone.watermark[mark], r.classzone, high,
                     non_block, oom)) {
        return z;
      }
    }
    return -1;
  };
  auto found = [out](int zone, bool via_no_watermarks) {
    out->zone = zone;
    out->via_no_watermarks = via_no_watermarks;
    return true;
  };
  int z = first_passing(1, false, false, false);
  if (z >= 0) return found(z, false);
  z = first_passing(0, r.high, r.non_block, r.oom);
  if (z >= 0) return found(z, false);
  if (IsEntitled(ctx)) {
    for (z = r.classzone; z >= 0; --z) {
      if (HasBlock(levels.zone[z], order)) return found(z, true);
    }
  }
  if (ctx.gfp & kGfpNoFail) {
    z = first_passing(0, true, false, false);
    if (z >= 0) return found(z, false);
  }
  return false;
}

int ZoneOfPage(const LevelsView& levels, PageHandle page) {
  for (int z = 0; z < levels.nr_zones; ++z) {
    const ZoneView& zone = levels.zone[z];
    if (page >= zone.start && page < zone.start + zone.managed) return z;
  }
  return -1;
}

}  // namespace reservoir::exec
