// The executor's request-level oracle (see allocation_oracle.h).
#include "reservoir/exec/allocation_oracle.h"

#include <cstdio>

#include "reservoir/exec/slab_completeness.h"
#include "reservoir/exec/watermark_judge.h"
#include "reservoir/report.h"
#include "reservoir/slab_allocator.h"

namespace reservoir::exec {
namespace {

using Origin = ProvenanceRecord::Origin;

constexpr int kHighMemZone = 1;

// The smallest order whose block holds one slot: the slab allocator's
// fallback order, the last one a failing slab call tries.
int FallbackOrder(uint32_t slot_size) {
  int order = 0;
  while ((kPageSize << order) < slot_size) ++order;
  return order;
}

void Place(char* buf, size_t size, const char* check, const char* what) {
  std::snprintf(buf, size, "exec.%s/%s", check, what);
}

// Reports a page-level decision the recomputation disagrees with.
[[noreturn]] void ReportWatermark(const char* check, const char* what,
                                  const AllocContext& ctx, int order,
                                  const char* detail) {
  char place[96];
  Place(place, sizeof(place), check, what);
  ReportBug(BugClass::kWatermarkBreach, place,
            "executor: %s of order %d (gfp %#x, pf_memalloc %d, softirq %d, "
            "oom victim %d, cpu %u): %s", what, order, ctx.gfp,
            ctx.pf_memalloc, ctx.in_softirq, ctx.oom_victim, ctx.cpu, detail);
}

}  // namespace

void AllocationOracle::Start(ModelApi* api) {
  api_ = api;
  record_.Clear();
  LevelsView probe;
  shown_ = api->ReadLevels(&probe) && probe.nr_zones > 0;
  nomixing_ = api->config().slab_policy == SlabPolicy::kNoMixing;
}

void AllocationOracle::Before() {
  injected_before_ = api_->InjectedFailures();
  if (shown_) api_->ReadLevels(&before_);
}

// After the call only the two page counters are read: they are all the
// judgement takes from after the call (a new block made, pages freed on
// the way); every level it judges by is the one read before the call.
void AllocationOracle::ReadAfter() {
  api_->ReadPageCounters(&after_allocs_, &after_frees_);
}

bool AllocationOracle::injected_during_call() const {
  return api_->InjectedFailures() != injected_before_;
}

uint64_t AllocationOracle::reserve_pages_in_use() const {
  uint64_t total = 0;
  for (int z = 0; z < before_.nr_zones; ++z) total += before_.zone[z].pfmemalloc;
  return total;
}

Origin AllocationOracle::JudgeNewBlock(const char* what,
                                       const AttemptList& given,
                                       const BlockView& block,
                                       uint32_t slot_size, int* attempt) {
  *attempt = -1;
  // Pages freed during the call (an empty slab discarded on the way) make
  // the levels read before it inexact, and an injected failure may have
  // made an attempt fail that would have fitted: the block is then not
  // judged, and its tag stands for its origin.
  if (after_frees_ != before_.page_frees || injected_during_call()) {
    return block.tagged ? Origin::kReserve : Origin::kNormal;
  }
  // A slab above its fallback order came from the preferred-order try,
  // which never carries __GFP_NOFAIL (only the fallback order does).
  AttemptList attempts = given;
  if (block.slab && block.order > FallbackOrder(slot_size)) {
    for (int i = 0; i < attempts.count; ++i) {
      attempts.at[i].ctx.gfp &= ~static_cast<Gfp>(kGfpNoFail);
    }
  }
  ExpectedPage expected;
  int used = -1;
  for (int i = 0; i < attempts.count && used < 0; ++i) {
    if (ExpectPageFor(before_, block.order, attempts.at[i].ctx, &expected)) {
      used = i;
    }
  }
  const AllocContext& last = attempts.at[attempts.count - 1].ctx;
  if (used < 0) {
    // Would it have fitted had the lower zone not kept its lowmem_reserve
    // back from a request that could use HighMem?
    LevelsView no_lowmem = before_;
    for (int z = 0; z < no_lowmem.nr_zones; ++z) {
      no_lowmem.zone[z].lowmem_reserve[kHighMemZone] = 0;
    }
    ExpectedPage ignored;
    for (int i = 0; i < attempts.count; ++i) {
      if (ExpectPageFor(no_lowmem, block.order, attempts.at[i].ctx,
                        &ignored) &&
          ZoneOfPage(before_, block.head) != kHighMemZone) {
        ReportWatermark("lowmem_reserve", what, last, block.order,
                        "served from the Normal zone below its watermark plus "
                        "the lowmem_reserve it keeps from HighMem-capable "
                        "requests");
      }
    }
    ReportWatermark("watermark_ignored", what, last, block.order,
                    "a block was handed out that no attempt this request may "
                    "make should have given, by the levels before the call");
  }
  const AllocContext& ctx = attempts.at[used].ctx;
  const int zone = ZoneOfPage(before_, block.head);
  if (zone == kHighMemZone && !(ctx.gfp & kGfpHighmem)) {
    ReportWatermark("zone_not_allowed", what, ctx, block.order,
                    "a HighMem page for a request without __GFP_HIGHMEM");
  }
  if (zone != expected.zone) {
    char detail[128];
    std::snprintf(detail, sizeof(detail),
                  "served from zone %d where the zonelist order picks zone %d",
                  zone, expected.zone);
    ReportWatermark("zone_order", what, ctx, block.order, detail);
  }
  if (block.tagged != expected.via_no_watermarks) {
    char place[96];
    Place(place, sizeof(place), "provenance_tag", what);
    ReportBug(BugClass::kStalePfmemalloc, place,
              "executor: the %s block at page %u (order %d) is %s, but by the "
              "levels before the call (gfp %#x) %s", what, block.head,
              block.order, block.tagged ? "tagged pfmemalloc" : "untagged",
              ctx.gfp,
              expected.via_no_watermarks
                  ? "only NO_WATERMARKS could serve it"
                  : "normal watermarks served it");
  }
  *attempt = used;
  return expected.via_no_watermarks ? Origin::kReserve : Origin::kNormal;
}

Origin AllocationOracle::AfterPages(const char* what,
                                    const AttemptList& attempts, int order,
                                    PageHandle page) {
  if (!shown_ || attempts.count == 0) return Origin::kUnknown;
  ReadAfter();
  if (page == kNoPage) {
    if (injected_during_call()) return Origin::kUnknown;
    for (int i = 0; i < attempts.count; ++i) {
      ExpectedPage expected;
      const AllocContext& ctx = attempts.at[i].ctx;
      if (ExpectPageFor(before_, order, ctx, &expected)) {
        ReportWatermark("watermark_refused", what, ctx, order,
                        "failed although, by the levels before the call, the "
                        "attempt should have succeeded");
      }
    }
    return Origin::kUnknown;
  }
  BlockView block;
  if (!api_->BlockOf(api_->PageAddress(page), &block)) return Origin::kUnknown;
  if (after_allocs_ != before_.page_allocs + 1) return Origin::kUnknown;
  int attempt = -1;
  const Origin origin = JudgeNewBlock(what, attempts, block, 0, &attempt);
  record_.Record(block.head, origin);
  return origin;
}

Origin AllocationOracle::AfterSlab(const char* what,
                                   const AttemptList& attempts,
                                   const SlabTarget& target,
                                   const void* object, const char* path) {
  if (!shown_ || attempts.count == 0) return Origin::kUnknown;
  ReadAfter();
  const bool injected = injected_during_call();
  const char* where = path != nullptr ? path : what;
  if (object == nullptr) {
    if (injected) return Origin::kUnknown;
    // Every attempt ran and failed: none may have left a usable object
    // behind, and none should have been able to get a new slab.
    SkippedSlabQuery query;
    query.reserve_ok = attempts.AnyReserveOk();
    SlabCandidate skipped;
    if (target.slot_size != 0 &&
        FindSkippedSlab(*api_, record_, target, query, &skipped)) {
      char place[96];
      Place(place, sizeof(place), "slab_skipped_object", "failed");
      ReportBug(BugClass::kSlabCorruption, place,
                "executor: %s failed on cpu %u although slab page %u on the "
                "%s list had %u free objects it could use", what, target.cpu,
                skipped.slab, SlabListName(skipped.list), skipped.free_objects);
    }
    const bool large = target.slot_size > kKmallocMaxCacheSize;
    const int order = FallbackOrder(target.slot_size);
    if (target.slot_size != 0 && order <= before_.max_order) {
      for (int i = 0; i < attempts.count; ++i) {
        ExpectedPage expected;
        const AllocContext& ctx = attempts.at[i].ctx;
        if (ExpectPageFor(before_, order, ctx, &expected)) {
          ReportWatermark("watermark_refused", what, ctx, order,
                          large ? "a large kmalloc failed although its block "
                                  "fitted by the levels before the call"
                                : "no new slab although a block of the "
                                  "fallback order fitted by the levels "
                                  "before the call");
        }
      }
    }
    return Origin::kUnknown;
  }
  BlockView block;
  if (!api_->BlockOf(object, &block)) return Origin::kUnknown;
  const bool new_block = after_allocs_ == before_.page_allocs + 1;
  Origin origin;
  int attempt = -1;
  if (new_block) {
    origin = JudgeNewBlock(what, attempts, block, target.slot_size, &attempt);
    record_.Record(block.head, origin);
  } else {
    origin = record_.Of(block.head);
    if (origin == Origin::kUnknown) {
      origin = block.tagged ? Origin::kReserve : Origin::kNormal;
      record_.Record(block.head, origin);
    } else if ((origin == Origin::kReserve) != block.tagged) {
      char place[96];
      Place(place, sizeof(place), "provenance_tag_changed", where);
      ReportBug(BugClass::kStalePfmemalloc, place,
                "executor: slab page %u was handed out %s but is now %s",
                block.head,
                origin == Origin::kReserve ? "from the reserve" : "normally",
                block.tagged ? "tagged pfmemalloc" : "untagged");
    }
  }
  // The request's own rights, not the allocator's: no attempt it may make
  // has reserve access, so it may not hold reserve memory.
  if (origin == Origin::kReserve && !attempts.AnyReserveOk()) {
    char place[96];
    Place(place, sizeof(place), "reserve_provenance_unentitled", where);
    ReportBug(BugClass::kSlabMixing, place,
              "executor: %s (gfp %#x, cpu %u) without reserve access got an "
              "object of page %u, which it saw come from the reserve", what,
              attempts.at[0].ctx.gfp, target.cpu, block.head);
  }
  // No mixing: reserve memory only when the normal pass could not succeed.
  if (nomixing_ && origin == Origin::kReserve && attempts.count == 2 &&
      !attempts.at[0].reserve_ok && !injected && block.slab) {
    const AllocContext& normal = attempts.at[0].ctx;
    ExpectedPage expected;
    const int order = FallbackOrder(target.slot_size);
    if (order <= before_.max_order &&
        ExpectPageFor(before_, order, normal, &expected)) {
      char place[96];
      Place(place, sizeof(place), "nomixing_reserve_unneeded", where);
      ReportBug(BugClass::kSlabMixing, place,
                "executor: under no-mixing, %s got an object of reserve slab "
                "page %u although its normal pass could have made a new slab "
                "(order %d fitted by the levels before the call)", what,
                block.head, order);
    }
    SkippedSlabQuery query;
    query.except = block.head;
    query.normal_only = true;
    SlabCandidate skipped;
    if (FindSkippedSlab(*api_, record_, target, query, &skipped)) {
      char place[96];
      Place(place, sizeof(place), "nomixing_normal_slab_skipped", where);
      ReportBug(BugClass::kSlabMixing, place,
                "executor: under no-mixing, %s got an object of reserve slab "
                "page %u although normal slab page %u on the %s list had %u "
                "free objects", what, block.head, skipped.slab,
                SlabListName(skipped.list), skipped.free_objects);
    }
  }
  // A new slab: no usable free object may have remained for this caller.
  if (new_block && block.slab) {
    SkippedSlabQuery query;
    query.except = block.head;
    query.reserve_ok =
        attempt >= 0 ? attempts.at[attempt].reserve_ok
                     : (origin == Origin::kReserve && attempts.AnyReserveOk());
    SlabCandidate skipped;
    if (FindSkippedSlab(*api_, record_, target, query, &skipped)) {
      char place[96];
      Place(place, sizeof(place), "slab_skipped_object", "new-slab");
      ReportBug(BugClass::kSlabCorruption, place,
                "executor: %s on cpu %u made new slab page %u although slab "
                "page %u on the %s list had %u free objects it could use",
                what, target.cpu, block.head, skipped.slab,
                SlabListName(skipped.list), skipped.free_objects);
    }
  }
  return origin;
}

}  // namespace reservoir::exec
