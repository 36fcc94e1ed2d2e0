// A seeded randomised stress test: thousands of mixed operations across both
// slab policies and every estimator, with the full audit after every
// operation. It must find nothing on the correct model and end pristine
// after everything is freed. Bounded by operation count, not time.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "reservoir/model.h"

namespace reservoir {
namespace {

// splitmix64: a tiny, seedable generator; the same seed replays exactly.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }

 private:
  uint64_t state_;
};

struct LivePages { Pfn pfn; int order; };
struct LiveObject { void* object; KmemCache* cache; uint16_t cpu; };
struct LiveGrant { ReserveGrant grant; KmemCache* cache; int kind; uint16_t cpu; };

struct StressParams {
  SlabPolicy policy;
  EstimatorKind estimator;
  uint32_t highmem_pages;
  uint16_t cpus;
  uint64_t seed;
};

class StressTest : public ::testing::TestWithParam<StressParams> {};

AllocContext RandomContext(Rng& rng, uint16_t cpus) {
  AllocContext ctx;
  ctx.gfp = static_cast<Gfp>(rng.Below(256)) & ~kGfpNoFail;
  ctx.pf_memalloc = rng.Below(4) == 0;
  ctx.oom_victim = rng.Below(8) == 0;
  ctx.in_softirq = rng.Below(4) == 0;
  ctx.cpu = static_cast<uint16_t>(rng.Below(cpus));
  return ctx;
}

TEST_P(StressTest, MixedOperationsStayConsistentAndEndPristine) {
  const StressParams p = GetParam();
  ModelConfig config;
  config.normal_pages = 512;
  config.highmem_pages = p.highmem_pages;
  config.max_order = 7;
  config.nr_cpus = p.cpus;
  config.slab_policy = p.policy;
  config.estimator = p.estimator;
  config.audit = AuditLevel::kFull;
  Model model(config);
  Rng rng(p.seed);

  uint64_t emergencies = 0;
  uint64_t via_reserve = 0;
  for (int round = 0; round < 2; ++round) {
    std::vector<LivePages> pages;
    std::vector<LiveObject> objects;
    std::vector<LiveGrant> grants;
    std::vector<KmemCache*> caches;
    std::vector<ReserveId> reserves;
    uint64_t successes = 0;

    for (int op = 0; op < 3000; ++op) {
      const AllocContext ctx = RandomContext(rng, p.cpus);
      switch (rng.Below(14)) {
        case 0: {
          const int order = static_cast<int>(rng.Below(5));
          const Pfn pfn = model.AllocPages(order, ctx);
          if (pfn != kNoPfn) pages.push_back({pfn, order}), ++successes;
          break;
        }
        case 1:
          if (!pages.empty()) {
            const size_t i = rng.Below(static_cast<uint32_t>(pages.size()));
            model.FreePages(pages[i].pfn, pages[i].order);
            pages[i] = pages.back();
            pages.pop_back();
          }
          break;
        case 2:
        case 3: {
          const size_t size = 1 + rng.Below(rng.Below(4) == 0 ? 20000 : 300);
          void* object = model.Kmalloc(size, ctx);
          if (object != nullptr) objects.push_back({object, nullptr, ctx.cpu}), ++successes;
          break;
        }
        case 4:
          if (!objects.empty()) {
            const size_t i = rng.Below(static_cast<uint32_t>(objects.size()));
            const uint16_t cpu = static_cast<uint16_t>(rng.Below(p.cpus));
            if (objects[i].cache) model.KmemCacheFree(objects[i].cache, objects[i].object, cpu);
            else model.Kfree(objects[i].object, cpu);
            objects[i] = objects.back();
            objects.pop_back();
          }
          break;
        case 5:
          if (caches.size() < 4) {
            KmemCache* cache = model.KmemCacheCreate(
                "stress", 8 + rng.Below(600), 1u << rng.Below(7));
            if (cache) caches.push_back(cache);
          } else {
            KmemCache* cache = caches[rng.Below(4)];
            void* object = model.KmemCacheAlloc(cache, ctx);
            if (object) objects.push_back({object, cache, ctx.cpu}), ++successes;
          }
          break;
        case 6:
          if (reserves.size() < 6) {
            const ReserveId parent =
                reserves.empty() || rng.Below(2) ? kRootReserve
                                                 : reserves[rng.Below(static_cast<uint32_t>(reserves.size()))];
            const ReserveId id = model.reserves().Create("r", parent);
            if (id != kNoReserve) reserves.push_back(id);
          } else {
            const ReserveId id = reserves[rng.Below(6)];
            switch (rng.Below(3)) {
              case 0: model.reserves().PagesSet(id, rng.Below(40)); break;
              case 1: model.reserves().KmallocSet(id, rng.Below(8000)); break;
              case 2:
                if (!caches.empty())
                  model.reserves().CacheSet(id, caches[rng.Below(static_cast<uint32_t>(caches.size()))], rng.Below(50));
                break;
            }
          }
          break;
        case 7:
          if (!reserves.empty()) {
            const ReserveId id = reserves[rng.Below(static_cast<uint32_t>(reserves.size()))];
            if (model.reserves().node(id).parent == kNoReserve) {
              const ReserveId parent = rng.Below(2) ? kRootReserve : reserves[rng.Below(static_cast<uint32_t>(reserves.size()))];
              model.reserves().Connect(id, parent);
            } else {
              model.reserves().Disconnect(id);
            }
          }
          break;
        case 8:
        case 9:
          if (!reserves.empty()) {
            const ReserveId id = reserves[rng.Below(static_cast<uint32_t>(reserves.size()))];
            LiveGrant live{};
            live.kind = static_cast<int>(rng.Below(3));
            live.cpu = ctx.cpu;
            if (live.kind == 0) {
              live.grant = model.KmallocReserve(1 + rng.Below(500), ctx, id);
            } else if (live.kind == 1) {
              live.grant = model.AllocPagesReserve(static_cast<int>(rng.Below(2)), ctx, id);
            } else if (!caches.empty()) {
              live.cache = caches[rng.Below(static_cast<uint32_t>(caches.size()))];
              live.grant = model.KmemCacheAllocReserve(live.cache, ctx, id);
            }
            if (live.grant.ok()) grants.push_back(live), ++successes;
            if (live.grant.emergency) ++emergencies;
          }
          break;
        case 10:
          if (!grants.empty()) {
            const size_t i = rng.Below(static_cast<uint32_t>(grants.size()));
            const LiveGrant& g = grants[i];
            if (g.kind == 0) model.KfreeReserve(g.grant, g.cpu);
            else if (g.kind == 1) model.FreePagesReserve(g.grant);
            else model.KmemCacheFreeReserve(g.cache, g.grant, g.cpu);
            grants[i] = grants.back();
            grants.pop_back();
          }
          break;
        case 11:
          model.AuditFull();
          break;
        case 12: {
          // Memory pressure from unentitled users, down to their watermark.
          AllocContext plain;
          plain.cpu = ctx.cpu;
          for (int i = 0; i < 200; ++i) {
            const Pfn pfn = model.AllocPages(0, plain);
            if (pfn == kNoPfn) break;
            pages.push_back({pfn, 0});
          }
          break;
        }
        case 13:
          // Pressure eases: half the pages go back.
          for (size_t n = pages.size() / 2; n > 0; --n) {
            const size_t i = rng.Below(static_cast<uint32_t>(pages.size()));
            model.FreePages(pages[i].pfn, pages[i].order);
            pages[i] = pages.back();
            pages.pop_back();
          }
          break;
      }
    }
    EXPECT_GT(successes, 500u);
    EXPECT_GT(model.pages().stats().alloc_fail, 100u) << "no memory pressure";
    via_reserve += model.pages().stats().alloc_no_watermarks;

    // Free everything, release every reserve: the model must be pristine.
    for (const LivePages& lp : pages) model.FreePages(lp.pfn, lp.order);
    for (const LiveObject& lo : objects) {
      if (lo.cache) model.KmemCacheFree(lo.cache, lo.object, lo.cpu);
      else model.Kfree(lo.object, lo.cpu);
    }
    for (const LiveGrant& g : grants) {
      if (g.kind == 0) model.KfreeReserve(g.grant, g.cpu);
      else if (g.kind == 1) model.FreePagesReserve(g.grant);
      else model.KmemCacheFreeReserve(g.cache, g.grant, g.cpu);
    }
    for (ReserveId id : reserves) {
      model.reserves().PagesSet(id, 0);
    }
    model.CheckPristine();
    EXPECT_TRUE(model.IsPristine());
    for (KmemCache* cache : caches) EXPECT_TRUE(model.KmemCacheDestroy(cache));
    // The second round runs on a reset model, which must behave as new.
    model.Reset();
    EXPECT_TRUE(model.IsPristine());
  }
  // The workload must reach the reserve paths, or it proves little.
  EXPECT_GT(emergencies, 0u);
  EXPECT_GT(via_reserve, 0u);
}

std::vector<StressParams> AllParams() {
  std::vector<StressParams> params;
  uint64_t seed = 1;
  for (SlabPolicy policy : {SlabPolicy::kPageTag, SlabPolicy::kNoMixing}) {
    for (EstimatorKind estimator : {EstimatorKind::kExact,
                                    EstimatorKind::kTwiceNPlusM,
                                    EstimatorKind::kPow2NPlusM}) {
      params.push_back({policy, estimator, 0, 2, seed++});
      params.push_back({policy, estimator, 256, 3, seed++});
    }
  }
  return params;
}

INSTANTIATE_TEST_SUITE_P(AllPoliciesAndEstimators, StressTest,
                         ::testing::ValuesIn(AllParams()));

}  // namespace
}  // namespace reservoir
