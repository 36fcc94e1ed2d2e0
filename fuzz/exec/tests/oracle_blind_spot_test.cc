// One test per blind spot of the oracle before the executor's request-level
// checks (docs/ORACLE.md). Each runs a short program on a deliberately wrong
// implementation of ModelApi: Reservoir's model wrapped so that one call
// takes a wrong path (through the model's own ...ForTesting() hooks, or by
// calling the model with a context other than the request's). It shows
// that the new check reports it, with its class and place, and that the
// oracle without the request-level checks (ExecOptions::request_checks =
// false: the model's audit, the shadow ledger, the old executor checks and
// the teardown) ran the same program to the end without a report.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "reservoir/exec/executor.h"
#include "reservoir/exec/guarantee_coverage.h"
#include "reservoir/exec/reservoir_model.h"
#include "reservoir/exec/watermark_judge.h"
#include "reservoir/program/header.h"
#include "reservoir/program/text_format.h"
#include "reservoir/slab_allocator.h"

namespace reservoir::exec {
namespace {

// Forwards every call to Reservoir's model; a test overrides one call.
class ForwardingModel : public ModelApi {
 public:
  explicit ForwardingModel(ReservoirModel& inner) : inner_(inner) {}
  Model& model() { return inner_.model(); }

  const ModelConfig& config() const override { return inner_.config(); }
  void SetFaultHook(FaultHook* hook) override { inner_.SetFaultHook(hook); }
  void Reset() override { inner_.Reset(); }
  int max_order() const override { return inner_.max_order(); }
  PageHandle AllocPages(int order, const AllocContext& ctx) override {
    return inner_.AllocPages(order, ctx);
  }
  void FreePages(PageHandle page, int order) override {
    inner_.FreePages(page, order);
  }
  void* PageAddress(PageHandle page) const override {
    return inner_.PageAddress(page);
  }
  CacheHandle CacheCreate(const char* name, uint32_t size,
                          uint32_t align) override {
    return inner_.CacheCreate(name, size, align);
  }
  bool CacheDestroy(CacheHandle cache) override {
    return inner_.CacheDestroy(cache);
  }
  void* CacheAlloc(CacheHandle cache, const AllocContext& ctx) override {
    return inner_.CacheAlloc(cache, ctx);
  }
  void CacheFree(CacheHandle cache, void* object, uint16_t cpu) override {
    inner_.CacheFree(cache, object, cpu);
  }
  void* Kmalloc(size_t size, const AllocContext& ctx) override {
    return inner_.Kmalloc(size, ctx);
  }
  void Kfree(void* object, uint16_t cpu) override { inner_.Kfree(object, cpu); }
  ReserveHandle ReserveCreate(const char* name, ReserveHandle parent) override {
    return inner_.ReserveCreate(name, parent);
  }
  ReserveHandle ReserveRoot() const override { return inner_.ReserveRoot(); }
  int ReservePagesSet(ReserveHandle node, uint64_t pages) override {
    return inner_.ReservePagesSet(node, pages);
  }
  int ReserveKmallocSet(ReserveHandle node, uint64_t bytes) override {
    return inner_.ReserveKmallocSet(node, bytes);
  }
  int ReserveCacheSet(ReserveHandle node, CacheHandle cache,
                      uint64_t objects) override {
    return inner_.ReserveCacheSet(node, cache, objects);
  }
  int ReserveConnect(ReserveHandle child, ReserveHandle parent) override {
    return inner_.ReserveConnect(child, parent);
  }
  int ReserveDisconnect(ReserveHandle child) override {
    return inner_.ReserveDisconnect(child);
  }
  int ReserveCharge(ReserveHandle node, uint64_t bytes) override {
    return inner_.ReserveCharge(node, bytes);
  }
  void ReserveUncharge(ReserveHandle node, uint64_t bytes) override {
    inner_.ReserveUncharge(node, bytes);
  }
  ReserveView Reserve(ReserveHandle node) const override {
    return inner_.Reserve(node);
  }
  Grant KmallocReserve(size_t size, const AllocContext& ctx,
                       ReserveHandle node) override {
    return inner_.KmallocReserve(size, ctx, node);
  }
  void KfreeReserve(const Grant& grant, uint16_t cpu) override {
    inner_.KfreeReserve(grant, cpu);
  }
  Grant AllocPagesReserve(int order, const AllocContext& ctx,
                          ReserveHandle node) override {
    return inner_.AllocPagesReserve(order, ctx, node);
  }
  void FreePagesReserve(const Grant& grant) override {
    inner_.FreePagesReserve(grant);
  }
  Grant CacheAllocReserve(CacheHandle cache, const AllocContext& ctx,
                          ReserveHandle node) override {
    return inner_.CacheAllocReserve(cache, ctx, node);
  }
  void CacheFreeReserve(CacheHandle cache, const Grant& grant,
                        uint16_t cpu) override {
    inner_.CacheFreeReserve(cache, grant, cpu);
  }
  bool OnReserveMemory(const void* object) const override {
    return inner_.OnReserveMemory(object);
  }
  const char* LastSlabAllocPath() const override {
    return inner_.LastSlabAllocPath();
  }
  uint64_t InjectedFailures() const override {
    return inner_.InjectedFailures();
  }
  bool ReadLevels(LevelsView* out) const override {
    return inner_.ReadLevels(out);
  }
  bool BlockOf(const void* object, BlockView* out) const override {
    return inner_.BlockOf(object, out);
  }
  bool VisitSlabCandidates(CacheHandle cache, size_t kmalloc_size,
                           uint16_t cpu, SlabCandidateVisitor visit,
                           void* arg) const override {
    return inner_.VisitSlabCandidates(cache, kmalloc_size, cpu, visit, arg);
  }
  int GuaranteeActive() const override { return inner_.GuaranteeActive(); }
  void AuditFull() const override { inner_.AuditFull(); }
  void SetAuditLevel(AuditLevel level) override { inner_.SetAuditLevel(level); }
  void CheckPristine() override { inner_.CheckPristine(); }

 protected:
  ReservoirModel& inner_;
};

constexpr const char* kFaultsNone =
    "faults mode=none seed=0 probability_ppm=0 fail_nth=1 sites=none\n";
constexpr const char* kOneZone =
    "config normal_pages=256 highmem_pages=0 max_order=8 min_free_kbytes=64 "
    "nr_cpus=2 slab_policy=page_tag estimator=exact audit=cheap\n";
constexpr const char* kTwoZones =
    "config normal_pages=256 highmem_pages=256 max_order=8 "
    "min_free_kbytes=64 nr_cpus=2 slab_policy=page_tag estimator=exact "
    "audit=cheap\n";
constexpr const char* kNoMixing =
    "config normal_pages=256 highmem_pages=0 max_order=8 min_free_kbytes=64 "
    "nr_cpus=2 slab_policy=no_mixing estimator=exact audit=cheap\n";

program::Program Parse(const std::string& text) {
  program::ParseResult parsed = program::FromText(text);
  if (!parsed.ok()) {
    ADD_FAILURE() << parsed.error->ToString();
    return {};
  }
  return parsed.program;
}

// Runs `body` under `config` on a fresh model wrapped by `Wrong`, with the
// request-level checks on or off.
template <class Wrong>
void RunWrong(const char* config, const std::string& body, bool checks) {
  const program::Program program =
      Parse(std::string("# reservoir program v1\n") + config + kFaultsNone +
            body);
  ReservoirModel inner(program::ToModelConfig(program.header), 0);
  Wrong wrong(inner);
  Executor executor;
  ExecOptions options;
  options.request_checks = checks;
  executor.RunOn(wrong, program, options);
}

class OracleBlindSpotTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// ---------------------------------------------------------------------------
// Provenance: a tag set, with the model's own provenance flag to match, on
// a page that normal watermarks served. The model's audit compares tag and
// its own provenance, which agree; the old executor looked at entitled
// requests not at all.

class TagsNormalPages : public ForwardingModel {
 public:
  using ForwardingModel::ForwardingModel;
  PageHandle AllocPages(int order, const AllocContext& ctx) override {
    const PageHandle page = inner_.AllocPages(order, ctx);
    if (page != kNoPage && IsEntitled(ctx)) {
      model().pages().SetTagForTesting(page);
      model().pages().mutable_frame(page).flags |= kPageViaNoWatermarks;
    }
    return page;
  }
};

constexpr const char* kEntitledPage =
    "alloc_pages order=0 gfp=KERNEL|MEMALLOC cpu=0\n";

TEST_F(OracleBlindSpotTest, TagOnANormalPageIsCaught) {
  RunWrong<TagsNormalPages>(kOneZone, kEntitledPage, /*checks=*/false);
  EXPECT_DEATH(RunWrong<TagsNormalPages>(kOneZone, kEntitledPage, true),
               "RESERVOIR BUG: stale-pfmemalloc: exec.provenance_tag/"
               "alloc_pages");
}

// ---------------------------------------------------------------------------
// Entitlement from the request, not from the allocator: under no-mixing an
// entitled kmalloc is served from the active reserve slab by a path told
// "reserve is fine" (the hook takes the object with reserve_ok true), though
// memory is plentiful again and its normal pass would have made a normal
// slab. The model's slab-mixing check trusts reserve_ok; the old executor
// checked only requests unentitled from outside.

class ReserveOkFirstPass : public ForwardingModel {
 public:
  using ForwardingModel::ForwardingModel;
  void* Kmalloc(size_t size, const AllocContext& ctx) override {
    const int index = KmallocIndex(size);
    if (index >= 0 && IsEntitled(ctx)) {
      KmemCache* cache = model().slab().KmallocCache(index);
      const Pfn active = cache->cpu[ctx.cpu].slab;
      if (active != kNoPfn && model().slab().slab(active).pfmemalloc) {
        if (void* object =
                model().slab().TakeFromActiveSlabForTesting(cache, ctx)) {
          return object;
        }
      }
    }
    return inner_.Kmalloc(size, ctx);
  }
};

constexpr const char* kReserveSlabThenPlenty =
    "reserve_set_pages res=0 pages=8\n"
    "pressure pages=256 gfp=KERNEL cpu=0\n"
    "set_pf_memalloc\n"
    "kmalloc size=64 gfp=KERNEL cpu=0\n"
    "release_pressure\n"
    "kmalloc size=64 gfp=KERNEL cpu=0\n";

TEST_F(OracleBlindSpotTest, ReserveObjectANormalPassCouldAvoidIsCaught) {
  RunWrong<ReserveOkFirstPass>(kNoMixing, kReserveSlabThenPlenty, false);
  EXPECT_DEATH(
      RunWrong<ReserveOkFirstPass>(kNoMixing, kReserveSlabThenPlenty, true),
      "RESERVOIR BUG: slab-mixing: exec.nomixing_reserve_unneeded/testing");
}

// ---------------------------------------------------------------------------
// The executor's own record: a reserve slab loses its tag (slab, page and
// counters kept consistent), and an unentitled kmalloc then takes an object
// from it. Every check of the model and the old executor check read that
// tag; the executor's record remembers how the slab's page came.

class LosesReserveTags : public ForwardingModel {
 public:
  using ForwardingModel::ForwardingModel;
  // The tag goes between calls: the slab was made tagged, and is found
  // untagged when the next request comes.
  void* Kmalloc(size_t size, const AllocContext& ctx) override {
    if (tagged_ != kNoPage) model().slab().UntagSlabForTesting(tagged_);
    tagged_ = kNoPage;
    void* object = inner_.Kmalloc(size, ctx);
    BlockView block;
    if (object != nullptr && inner_.BlockOf(object, &block) && block.slab &&
        block.tagged) {
      tagged_ = block.head;
    }
    return object;
  }

 private:
  PageHandle tagged_ = kNoPage;
};

constexpr const char* kReserveSlabThenUnentitled =
    "reserve_set_pages res=0 pages=8\n"
    "pressure pages=256 gfp=KERNEL cpu=0\n"
    "set_pf_memalloc\n"
    "kmalloc size=64 gfp=KERNEL cpu=0\n"
    "clear_pf_memalloc\n"
    "release_pressure\n"
    "kmalloc size=64 gfp=KERNEL cpu=0\n";

TEST_F(OracleBlindSpotTest, ReserveObjectToAnUnentitledCallerIsCaught) {
  RunWrong<LosesReserveTags>(kOneZone, kReserveSlabThenUnentitled, false);
  EXPECT_DEATH(
      RunWrong<LosesReserveTags>(kOneZone, kReserveSlabThenUnentitled, true),
      "RESERVOIR BUG: stale-pfmemalloc: exec.provenance_tag_changed/"
      "cpu-freelist");
}

// ---------------------------------------------------------------------------
// Watermarks recomputed: a plain GFP_KERNEL request served with the
// __GFP_HIGH relaxation it did not ask for, below its min watermark (but
// above the strict reserve, so the model's watermark-breach check holds).

class RelaxesEveryone : public ForwardingModel {
 public:
  using ForwardingModel::ForwardingModel;
  PageHandle AllocPages(int order, const AllocContext& ctx) override {
    AllocContext relaxed = ctx;
    if (!(ctx.gfp & kGfpNoMemalloc)) relaxed.gfp |= kGfpHigh;
    return inner_.AllocPages(order, relaxed);
  }
};

constexpr const char* kPageAfterPressure =
    "pressure pages=256 gfp=KERNEL cpu=0\n"
    "alloc_pages order=0 gfp=KERNEL cpu=0\n";

TEST_F(OracleBlindSpotTest, PageBelowItsWatermarkIsCaught) {
  RunWrong<RelaxesEveryone>(kOneZone, kPageAfterPressure, false);
  EXPECT_DEATH(RunWrong<RelaxesEveryone>(kOneZone, kPageAfterPressure, true),
               "RESERVOIR BUG: watermark-breach: exec.watermark_ignored/"
               "alloc_pages");
}

// Completeness of the page allocator: a request that fits fails.
class FailsPlainPages : public ForwardingModel {
 public:
  using ForwardingModel::ForwardingModel;
  PageHandle AllocPages(int order, const AllocContext& ctx) override {
    if (!(ctx.gfp & kGfpNoMemalloc)) return kNoPage;
    return inner_.AllocPages(order, ctx);
  }
};

TEST_F(OracleBlindSpotTest, FailedPageThatFitsIsCaught) {
  RunWrong<FailsPlainPages>(kOneZone, kEntitledPage, false);
  EXPECT_DEATH(RunWrong<FailsPlainPages>(kOneZone, kEntitledPage, true),
               "RESERVOIR BUG: watermark-breach: exec.watermark_refused/"
               "alloc_pages");
}

// ---------------------------------------------------------------------------
// Zones: a HighMem-capable request served from Normal as if it could not
// use HighMem, so Normal's lowmem_reserve for it is not kept back; and an
// ordinary request served from HighMem.

class DropsHighmem : public ForwardingModel {
 public:
  using ForwardingModel::ForwardingModel;
  PageHandle AllocPages(int order, const AllocContext& ctx) override {
    AllocContext lowered = ctx;
    if (!(ctx.gfp & kGfpNoMemalloc)) lowered.gfp &= ~kGfpHighmem;
    return inner_.AllocPages(order, lowered);
  }
};

constexpr const char* kHighmemPageAfterPressure =
    "pressure pages=1024 gfp=KERNEL|HIGHMEM cpu=0\n"
    "alloc_pages order=0 gfp=KERNEL|HIGHMEM cpu=0\n";

TEST_F(OracleBlindSpotTest, LowmemReserveIgnoredIsCaught) {
  RunWrong<DropsHighmem>(kTwoZones, kHighmemPageAfterPressure, false);
  EXPECT_DEATH(
      RunWrong<DropsHighmem>(kTwoZones, kHighmemPageAfterPressure, true),
      "RESERVOIR BUG: watermark-breach: exec.lowmem_reserve/alloc_pages");
}

class AddsHighmem : public ForwardingModel {
 public:
  using ForwardingModel::ForwardingModel;
  PageHandle AllocPages(int order, const AllocContext& ctx) override {
    AllocContext raised = ctx;
    if (!(ctx.gfp & kGfpNoMemalloc)) raised.gfp |= kGfpHighmem;
    return inner_.AllocPages(order, raised);
  }
};

constexpr const char* kKernelPage = "alloc_pages order=0 gfp=KERNEL cpu=0\n";

TEST_F(OracleBlindSpotTest, HighmemPageForALowmemRequestIsCaught) {
  RunWrong<AddsHighmem>(kTwoZones, kKernelPage, false);
  EXPECT_DEATH(RunWrong<AddsHighmem>(kTwoZones, kKernelPage, true),
               "RESERVOIR BUG: watermark-breach: exec.zone_not_allowed/"
               "alloc_pages");
}

// ---------------------------------------------------------------------------
// Slab completeness: after the first kmalloc the CPU's active slab has free
// objects; the wrong path serves the next request from the other CPU's
// lists (a new slab there), or fails it outright.

class WrongCpuAfterFirst : public ForwardingModel {
 public:
  using ForwardingModel::ForwardingModel;
  void* Kmalloc(size_t size, const AllocContext& ctx) override {
    AllocContext moved = ctx;
    if (calls_++ > 0) moved.cpu = static_cast<uint16_t>((ctx.cpu + 1) % 2);
    return inner_.Kmalloc(size, moved);
  }

 private:
  int calls_ = 0;
};

class FailsAfterFirst : public ForwardingModel {
 public:
  using ForwardingModel::ForwardingModel;
  void* Kmalloc(size_t size, const AllocContext& ctx) override {
    if (calls_++ > 0) return nullptr;
    return inner_.Kmalloc(size, ctx);
  }

 private:
  int calls_ = 0;
};

constexpr const char* kTwoKmallocs =
    "kmalloc size=64 gfp=KERNEL cpu=0\n"
    "kmalloc size=64 gfp=KERNEL cpu=0\n";

TEST_F(OracleBlindSpotTest, NewSlabBesideAFreeObjectIsCaught) {
  RunWrong<WrongCpuAfterFirst>(kOneZone, kTwoKmallocs, false);
  EXPECT_DEATH(RunWrong<WrongCpuAfterFirst>(kOneZone, kTwoKmallocs, true),
               "RESERVOIR BUG: slab-corruption: exec.slab_skipped_object/"
               "new-slab");
}

TEST_F(OracleBlindSpotTest, FailedSlabAllocBesideAFreeObjectIsCaught) {
  RunWrong<FailsAfterFirst>(kOneZone, kTwoKmallocs, false);
  EXPECT_DEATH(RunWrong<FailsAfterFirst>(kOneZone, kTwoKmallocs, true),
               "RESERVOIR BUG: slab-corruption: exec.slab_skipped_object/"
               "failed");
}

// ---------------------------------------------------------------------------
// The guarantee, decided by the executor: an emergency kmalloc within a
// kmalloc reserve fails and the implementation says nothing (the old oracle
// relied on the implementation's own guarantee check); and an
// implementation whose guarantee oracle stands down without cause.

class FailsEmergencySilently : public ForwardingModel {
 public:
  using ForwardingModel::ForwardingModel;
  Grant KmallocReserve(size_t size, const AllocContext& ctx,
                       ReserveHandle node) override {
    Grant grant;
    grant.node = node;
    grant.charge_status = 0;  // "the charge was accepted"
    return grant;
  }
};

constexpr const char* kEmergencyKmalloc =
    "reserve_set_kmalloc res=0 bytes=64\n"
    "set_pf_memalloc\n"
    "kmalloc_reserve size=64 gfp=KERNEL cpu=0 res=0\n";

TEST_F(OracleBlindSpotTest, SilentGuaranteeFailureIsCaught) {
  RunWrong<FailsEmergencySilently>(kOneZone, kEmergencyKmalloc, false);
  EXPECT_DEATH(
      RunWrong<FailsEmergencySilently>(kOneZone, kEmergencyKmalloc, true),
      "RESERVOIR BUG: guarantee-violation: exec.guarantee_missed/"
      "kmalloc_reserve");
}

class StandsDownWithoutCause : public ForwardingModel {
 public:
  using ForwardingModel::ForwardingModel;
  void* Kmalloc(size_t size, const AllocContext& ctx) override {
    model().MarkReserveUnaccountedForTesting();
    return inner_.Kmalloc(size, ctx);
  }
};

constexpr const char* kOneKmalloc = "kmalloc size=64 gfp=KERNEL cpu=0\n";

TEST_F(OracleBlindSpotTest, GuaranteeStandingDownWithoutCauseIsCaught) {
  RunWrong<StandsDownWithoutCause>(kOneZone, kOneKmalloc, false);
  EXPECT_DEATH(RunWrong<StandsDownWithoutCause>(kOneZone, kOneKmalloc, true),
               "RESERVOIR BUG: guarantee-violation: exec.guarantee_coverage/"
               "kmalloc");
}

// ---------------------------------------------------------------------------
// The correct model runs these programs clean with every check on.

TEST_F(OracleBlindSpotTest, CorrectModelRunsClean) {
  const char* bodies[] = {kEntitledPage, kPageAfterPressure, kTwoKmallocs,
                          kEmergencyKmalloc, kOneKmalloc};
  for (const char* body : bodies) {
    RunWrong<ForwardingModel>(kOneZone, body, true);
    RunWrong<ForwardingModel>(kNoMixing, body, true);
  }
  RunWrong<ForwardingModel>(kNoMixing, kReserveSlabThenPlenty, true);
  RunWrong<ForwardingModel>(kOneZone, kReserveSlabThenUnentitled, true);
  RunWrong<ForwardingModel>(kTwoZones, kHighmemPageAfterPressure, true);
  RunWrong<ForwardingModel>(kTwoZones, kKernelPage, true);
}

// ---------------------------------------------------------------------------
// The coverage rule that fixed the cache-reserve retarget finding: a re-set
// to another target, or to fewer pages, stands down only while reserve
// pages are in use.

TEST(GuaranteeCoverageTest, RetargetStandsDownOnlyWithReservePagesInUse) {
  ShadowLedger ledger;
  ledger.Clear();
  GuaranteeCoverage coverage;
  coverage.Clear(0);
  coverage.CacheCreated(13, 8);
  coverage.CacheCreated(14, 8);
  using Demand = GuaranteeCoverage::Demand;
  coverage.DemandSet(0, Demand::kCache, 13, 1, 0, 1, 0);
  EXPECT_TRUE(coverage.Budgets(ledger, 0, Demand::kCache, 13));
  EXPECT_FALSE(coverage.Budgets(ledger, 0, Demand::kCache, 14));
  coverage.DemandSet(0, Demand::kCache, 14, 2, 1, 1, 0);  // nothing in use
  EXPECT_FALSE(coverage.stood_down());
  EXPECT_TRUE(coverage.Budgets(ledger, 0, Demand::kCache, 14));
  coverage.DemandSet(0, Demand::kCache, 14, 4, 1, 2, 1);  // growth in use
  EXPECT_FALSE(coverage.stood_down());
  coverage.DemandSet(0, Demand::kCache, 13, 1, 2, 1, 1);  // retarget in use
  EXPECT_TRUE(coverage.stood_down());
  GuaranteeCoverage shrink;
  shrink.Clear(0);
  shrink.DemandSet(0, Demand::kPages, kNoCache, 4, 0, 4, 0);
  shrink.DemandSet(0, Demand::kPages, kNoCache, 2, 4, 2, 3);  // shrink in use
  EXPECT_TRUE(shrink.stood_down());
}

// The recomputation agrees with the model's own watermark test at every
// level from a free zone down to exhaustion, with a strict reserve, for
// several orders and relaxations.
TEST(WatermarkJudgeTest, AgreesWithTheModelDownToExhaustion) {
  ModelConfig config;
  config.normal_pages = 256;
  config.max_order = 8;
  config.min_free_kbytes = 64;
  ReservoirModel model(config, 0);
  ASSERT_TRUE(model.model().pages().SetStrictReserve(8));
  const Gfp gfps[] = {kGfpKernel, kGfpAtomic, kGfpHigh | kGfpDirectReclaim,
                      kGfpAtomic | kGfpNoMemalloc, 0};
  AllocContext eater;
  eater.gfp = kGfpAtomic;  // eats as deep as any unentitled request may
  int steps = 0;
  for (;;) {
    LevelsView levels;
    ASSERT_TRUE(model.ReadLevels(&levels));
    const Zone& zone = model.model().pages().zone(kZoneNormal);
    for (Gfp gfp : gfps) {
      for (int order = 0; order <= 2; ++order) {
        AllocContext ctx;
        ctx.gfp = gfp;
        const WatermarkJudgement j = JudgeWatermarks(levels, order, ctx);
        uint32_t flags = kAllocWmarkMin;
        if (gfp & kGfpHigh) flags |= kAllocHigh;
        if (!(gfp & kGfpDirectReclaim) && !(gfp & kGfpNoMemalloc))
          flags |= kAllocNonBlock;
        EXPECT_EQ(j.slow_zone >= 0,
                  ZoneWatermarkOk(zone, order, zone.watermark[0], kZoneNormal,
                                  flags, config.max_order))
            << "gfp " << gfp << " order " << order << " free " << zone.free_pages;
        EXPECT_EQ(j.fast_zone >= 0,
                  ZoneWatermarkOk(zone, order, zone.watermark[1], kZoneNormal,
                                  kAllocWmarkLow, config.max_order))
            << "gfp " << gfp << " order " << order << " free " << zone.free_pages;
      }
    }
    if (model.AllocPages(0, eater) == kNoPage) break;
    ++steps;
  }
  // It went from 256 free pages down past min and low to the floor.
  EXPECT_GT(steps, 200);
}

// The oracle's lazy form agrees with the full judgement on levels of every
// kind (one or two zones, free counts around the marks, reserves held,
// blocks of some orders only) and every gfp and task state.
TEST(WatermarkJudgeTest, LazyFormAgreesWithTheFullJudgement) {
  uint64_t state = 99;
  const auto next = [&state](uint64_t bound) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % bound;
  };
  int served = 0;
  int refused = 0;
  for (int round = 0; round < 20000; ++round) {
    LevelsView levels;
    levels.nr_zones = 1 + static_cast<int>(next(2));
    levels.max_order = static_cast<int>(next(kMaxOrderLimit + 1));
    for (int z = 0; z < levels.nr_zones; ++z) {
      ZoneView& zone = levels.zone[z];
      zone.start = static_cast<PageHandle>(z * 512);
      zone.managed = 512;
      zone.watermark[0] = next(64);
      zone.watermark[1] = zone.watermark[0] + next(32);
      zone.watermark[2] = zone.watermark[1] + next(32);
      zone.lowmem_reserve[1] = z == 0 ? next(48) : 0;
      zone.pages_emerg = next(3) == 0 ? 0 : next(40);
      zone.free = next(200);
      zone.free_orders = static_cast<uint32_t>(next(1u << (levels.max_order + 1)));
    }
    AllocContext ctx;
    ctx.gfp = static_cast<Gfp>(next(kGfpAllKnown + 1));
    ctx.pf_memalloc = next(2);
    ctx.in_softirq = next(2);
    ctx.oom_victim = next(2);
    const int order = static_cast<int>(next(levels.max_order + 2));
    ExpectedPage full;
    ExpectedPage lazy;
    const bool full_served =
        ExpectPage(JudgeWatermarks(levels, order, ctx), ctx, &full);
    const bool lazy_served = ExpectPageFor(levels, order, ctx, &lazy);
    ASSERT_EQ(full_served, lazy_served) << "round " << round;
    if (full_served) {
      ASSERT_EQ(full.zone, lazy.zone) << "round " << round;
      ASSERT_EQ(full.via_no_watermarks, lazy.via_no_watermarks)
          << "round " << round;
      ++served;
    } else {
      ++refused;
    }
  }
  // Both outcomes were exercised, often.
  EXPECT_GT(served, 2000);
  EXPECT_GT(refused, 2000);
}

}  // namespace
}  // namespace reservoir::exec
