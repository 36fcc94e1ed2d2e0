// The reserve wrappers (kmalloc_reserve and friends from the seed patches):
// try the normal allocation without touching reserves; on failure, if the
// caller is entitled and its reserve accepts the charge, allocate from the
// reserve and remember the charge so the free undoes exactly that.
#include <cstdio>

#include "reservoir/estimator.h"
#include "reservoir/model.h"
#include "reservoir/plant.h"
#include "reservoir/report.h"

namespace reservoir {
namespace {

AllocContext WithoutReserves(const AllocContext& ctx) {
  AllocContext normal = ctx;
  normal.gfp |= kGfpNoMemalloc | kGfpNoWarn;
  return normal;
}

// The seed patch's charge (PLANT(uncharge_ksize)).
uint64_t RoundUpPowerOfTwo(uint64_t x) {
  uint64_t result = 1;
  while (result < x) result <<= 1;
  return result;
}

}  // namespace

template <typename Allocate>
void Model::AllocateEmergency(ReserveGrant* grant, uint64_t charge,
                              bool in_softirq, const char* what, uint64_t size,
                              bool guaranteed, Allocate allocate) {
  const ChargeResult charged =
      reserves_.TryCharge(grant->node, charge, what, in_softirq);
  grant->charge_status = charged.status;
  if (charged.status != ReserveStatus::kOk) return;
  const uint64_t injected_before = gate_.injected_total();
  if (allocate()) {
    grant->charged = charge;
    grant->emergency = true;
    return;
  }
  // PLANT(error_path_skips_uncharge): when the emergency allocation fails
  // because a fault was injected, the error path returns before undoing the
  // charge that already succeeded: the kind of leak on a rarely taken error
  // path that syzkaller's fail_nth mode finds; in Linux for instance the
  // memcg charge that shmem's swap-in error path did not undo (fixed by
  // d1899228, "shmem: fix negative rss in memcg memory.stat"). Only
  // reachable with fault injection.
  // Caught by the executor's shadow ledger (accounting-imbalance: the node's
  // usage exceeds its live charges).
  if (RESERVOIR_PLANTED(error_path_skips_uncharge) &&
      gate_.injected_total() != injected_before) {
    return;
  }
  reserves_.Uncharge(grant->node, charge);
  // The guarantee: a user within its declared reserve never fails, unless
  // a fault was injected, reserve memory was used unaccounted, or a
  // reserve's demand changed while reserve pages were in use. It covers
  // only requests the reserve budgeted (`guaranteed`: the right kind of
  // reserve, attached under the root) that fragmentation cannot deny
  // (order-0 blocks).
  const ReserveNode& node = reserves_.node(grant->node);
  if (gate_.injected_total() == injected_before && !guarantee_stood_down() &&
      guaranteed) {
    char place[80];
    std::snprintf(place, sizeof(place), "reserve.guarantee/%s", what);
    ReportBug(BugClass::kGuaranteeViolation, place, "%s(%llu) failed for reserve "
              "'%s' within its limit (usage %llu + %llu <= limit %llu); "
              "strict reserve %llu pages, %llu reserve pages in use, "
              "estimator %s", what, static_cast<unsigned long long>(size),
              node.name, static_cast<unsigned long long>(node.usage),
              static_cast<unsigned long long>(charge),
              static_cast<unsigned long long>(node.limit),
              static_cast<unsigned long long>(pages_.strict_reserve()),
              static_cast<unsigned long long>(pages_.pfmemalloc_pages()),
              EstimatorKindName(config_.estimator));
  }
}

// Model::Budgets(): reserve_walks.cc (model state only).

// A grant the node's estimate never budgeted (kmalloc against a pages
// reserve, an object of one cache against another's, anything against a
// detached reserve) took reserve pages that belong to other users.
// Legitimate, but unaccounted like an entitled plain allocation: a later
// failure of a correctly sized user is no guarantee violation, so the
// oracle stands down until reset.
void Model::NoteUnbudgetedUse(const ReserveGrant& grant, bool budgeted) {
  if (grant.emergency && !budgeted) reserve_used_unaccounted_ = true;
}

ReserveGrant Model::KmallocReserve(size_t size, const AllocContext& ctx,
                                   ReserveId node) {
  ReserveGrant grant;
  grant.node = node;
  grant.object = slab_.Kmalloc(size, WithoutReserves(ctx), "kmalloc_reserve");
  if (grant.object == nullptr && IsEntitled(ctx) && size != 0) {
    uint64_t charge = KmallocChargeBytes(size);
    // PLANT(uncharge_ksize): charge roundup_pow_of_two(size) as the seed
    // patch did; the free uncharges ksize(), which differs for 96 and 192.
    if (RESERVOIR_PLANTED(uncharge_ksize) && size <= kKmallocMaxCacheSize) {
      charge = RoundUpPowerOfTwo(size);
    }
    const int index = KmallocIndex(size);
    const bool budgeted = Budgets(node, ReserveKind::kKmalloc, nullptr);
    const bool guaranteed =
        index >= 0 && KmallocClassSize(index) <= kPageSize && budgeted;
    AllocateEmergency(&grant, charge, ctx.in_softirq, "kmalloc_reserve", size, guaranteed,
                      [&] {
                        grant.object = slab_.Kmalloc(size, ctx, "kmalloc_reserve");
                        return grant.object != nullptr;
                      });
    NoteUnbudgetedUse(grant, budgeted);
  }
  AfterOperation();
  return grant;
}

void Model::KfreeReserve(const ReserveGrant& grant, uint16_t cpu) {
  uint64_t uncharge = grant.charged;
  // PLANT(uncharge_ksize): the free uncharges ksize().
  if (RESERVOIR_PLANTED(uncharge_ksize)) {
    uncharge = grant.emergency ? slab_.Ksize(grant.object) : 0;
  }
  slab_.Kfree(grant.object, cpu);
  if (grant.emergency) reserves_.Uncharge(grant.node, uncharge);
  AfterOperation();
}

ReserveGrant Model::KmemCacheAllocReserve(KmemCache* cache,
                                          const AllocContext& ctx,
                                          ReserveId node) {
  ReserveGrant grant;
  grant.node = node;
  if (cache == nullptr || !cache->live) return grant;
  grant.object = slab_.CacheAlloc(cache, WithoutReserves(ctx),
                                  "kmem_cache_alloc_reserve");
  if (grant.object == nullptr && IsEntitled(ctx)) {
    const bool budgeted = Budgets(node, ReserveKind::kCache, cache);
    const bool guaranteed = cache->min_order == 0 && budgeted;
    AllocateEmergency(&grant, cache->size, ctx.in_softirq,
                      "kmem_cache_alloc_reserve",
                      cache->object_size, guaranteed, [&] {
                        grant.object = slab_.CacheAlloc(
                            cache, ctx, "kmem_cache_alloc_reserve");
                        return grant.object != nullptr;
                      });
    NoteUnbudgetedUse(grant, budgeted);
  }
  AfterOperation();
  return grant;
}

void Model::KmemCacheFreeReserve(KmemCache* cache, const ReserveGrant& grant,
                                 uint16_t cpu) {
  slab_.CacheFree(cache, grant.object, cpu);
  if (grant.emergency) reserves_.Uncharge(grant.node, grant.charged);
  AfterOperation();
}

ReserveGrant Model::AllocPagesReserve(int order, const AllocContext& ctx,
                                      ReserveId node) {
  ReserveGrant grant;
  grant.node = node;
  grant.order = order;
  grant.pfn = pages_.AllocPages(order, WithoutReserves(ctx),
                                "alloc_pages_reserve").pfn;
  if (grant.pfn == kNoPfn && IsEntitled(ctx) && order >= 0 &&
      order <= pages_.max_order()) {
    const bool budgeted = Budgets(node, ReserveKind::kPages, nullptr);
    const bool guaranteed = order == 0 && budgeted;
    AllocateEmergency(&grant, kPageSize << order, ctx.in_softirq,
                      "alloc_pages_reserve",
                      kPageSize << order, guaranteed, [&] {
                        grant.pfn = pages_.AllocPages(order, ctx,
                                                      "alloc_pages_reserve").pfn;
                        return grant.pfn != kNoPfn;
                      });
    NoteUnbudgetedUse(grant, budgeted);
  }
  if (grant.pfn != kNoPfn) grant.object = pages_.PageAddress(grant.pfn);
  AfterOperation();
  return grant;
}

void Model::FreePagesReserve(const ReserveGrant& grant) {
  pages_.FreePages(grant.pfn, grant.order);
  if (grant.emergency) reserves_.Uncharge(grant.node, grant.charged);
  AfterOperation();
}

}  // namespace reservoir
