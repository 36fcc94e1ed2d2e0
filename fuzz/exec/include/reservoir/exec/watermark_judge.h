// The executor's own recomputation of the page allocator's decision, from
// the zone levels it read before a call and the request's gfp and task
// context: which attempt (normal watermarks, NO_WATERMARKS, the __GFP_NOFAIL
// retry) can serve an allocation of some order, and from which zone, in the
// kernel's zonelist order. Written from DOMAIN.md and docs/MODEL.md, not
// from the allocator's code, so that a wrong watermark, a missed
// lowmem_reserve or a wrong zone in the model disagrees with it.
#pragma once

#include "reservoir/exec/model_api.h"
#include "reservoir/gfp.h"

namespace reservoir::exec {

struct WatermarkJudgement {
  // A zone that passes, for each attempt in the order the allocator makes
  // them; -1 when none passes.
  int fast_zone = -1;    // the low watermark, no relaxation
  int slow_zone = -1;    // the min watermark with the request's relaxations
  int reserve_zone = -1; // NO_WATERMARKS: any zone with a block of the order
  int nofail_zone = -1;  // __GFP_NOFAIL's last try at min, relaxed for HIGH
  // The zone a lower zone keeps back from this request is part of the
  // watermark: what the request's highest usable zone is.
  int classzone = 0;

  bool fits_normal() const { return fast_zone >= 0 || slow_zone >= 0; }
  int normal_zone() const { return fast_zone >= 0 ? fast_zone : slow_zone; }
};

// What the allocation of `order` with `ctx` may get, given `levels`.
WatermarkJudgement JudgeWatermarks(const LevelsView& levels, int order,
                                   const AllocContext& ctx);

// The outcome the judgement predicts for a request that is served: the
// zone and whether only NO_WATERMARKS could serve it. False when no attempt
// the request may make should succeed.
struct ExpectedPage {
  int zone = -1;
  bool via_no_watermarks = false;
};
bool ExpectPage(const WatermarkJudgement& judgement, const AllocContext& ctx,
                ExpectedPage* out);

// ExpectPage(JudgeWatermarks(levels, order, ctx), ctx, out), computed
// lazily: each attempt's zone test only when no earlier attempt served the
// request (the oracle's form; the two agree on every input, see
// WatermarkJudgeTest in fuzz/exec/tests).
bool ExpectPageFor(const LevelsView& levels, int order, const AllocContext& ctx,
                   ExpectedPage* out);

// The zone of page `page` in `levels` (-1 outside every zone).
int ZoneOfPage(const LevelsView& levels, PageHandle page);

}  // namespace reservoir::exec
