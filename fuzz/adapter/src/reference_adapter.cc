// The reference adapter: the model's own reserve tree (ReserveTree) behind
// the C table, with the reserve wrappers written against the C half of
// reservoir/adapter.h the way a user would write them. Run through
// AdapterModel it must behave exactly as the direct path (ReservoirModel):
// same results, same findings, including the layer-3 plants, whose
// sites it carries as allocator/src/reserve_wrappers.cc does
// (RESERVOIR_PLANTED, reservoir/plant.h).
#include <cstdint>

#include "reservoir/adapter.h"
#include "reservoir/adapter/adapter_model.h"
#include "reservoir/estimator.h"
#include "reservoir/plant.h"
#include "reservoir/reserve_tree.h"

namespace {

using reservoir::ReserveId;
using reservoir::ReserveStatus;
using reservoir::ReserveTree;

ReserveTree& Tree() { return reservoir::adapter::AdapterModel::active()->model().reserves(); }

reservoir_reserve* Encode(ReserveId id) {
  if (id == reservoir::kNoReserve) return nullptr;
  return reinterpret_cast<reservoir_reserve*>(uintptr_t{id} + 1);
}

ReserveId Decode(const reservoir_reserve* res) {
  const uintptr_t code = reinterpret_cast<uintptr_t>(res);
  if (code == 0 || code > reservoir::kMaxReserves) return reservoir::kNoReserve;
  return static_cast<ReserveId>(code - 1);
}

int Code(ReserveStatus status) { return static_cast<int>(status); }

uint64_t InjectedSoFar() {
  return reservoir::adapter::AdapterModel::active()
      ->model().fault_gate().injected_total();
}

// The model's Reset() already emptied the tree.
void RefReset() {}

reservoir_reserve* RefRoot() { return Encode(reservoir::kRootReserve); }

reservoir_reserve* RefCreate(const char* name, reservoir_reserve* parent) {
  return Encode(Tree().Create(name, Decode(parent)));
}

int RefConnect(reservoir_reserve* child, reservoir_reserve* parent) {
  return Code(Tree().Connect(Decode(child), Decode(parent)));
}

int RefDisconnect(reservoir_reserve* child) {
  return Code(Tree().Disconnect(Decode(child)));
}

int RefPagesSet(reservoir_reserve* res, uint64_t pages) {
  return Code(Tree().PagesSet(Decode(res), pages));
}

int RefKmallocSet(reservoir_reserve* res, uint64_t bytes) {
  return Code(Tree().KmallocSet(Decode(res), bytes));
}

int RefCacheSet(reservoir_reserve* res, reservoir_kmem_cache* cache,
                uint64_t objects) {
  return Code(Tree().CacheSet(
      Decode(res), reservoir::adapter::AdapterModel::active()->DecodeCache(cache),
      objects));
}

int RefCharge(reservoir_reserve* res, uint64_t bytes) {
  return Code(Tree().TryCharge(Decode(res), bytes, "reserve_charge").status);
}

void RefUncharge(reservoir_reserve* res, uint64_t bytes) {
  Tree().Uncharge(Decode(res), bytes);
}

int RefQuery(const reservoir_reserve* res, reservoir_reserve_info* out) {
  const ReserveId id = Decode(res);
  if (!Tree().IsLive(id)) return -1;
  const reservoir::ReserveNode& node = Tree().node(id);
  out->parent = Encode(node.parent);
  out->pages = node.pages;
  out->limit = node.limit;
  out->usage = node.usage;
  return 0;
}

// Charges, then runs `allocate`; undoes the charge when it fails (the
// error_path_skips_uncharge plant skips that after an injected failure).
template <typename Allocate>
bool ChargeAndAllocate(ReserveId id, uint64_t charge, const char* what,
                       Allocate allocate) {
  if (Tree().TryCharge(id, charge, what).status != ReserveStatus::kOk) {
    return false;
  }
  const uint64_t injected_before = InjectedSoFar();
  if (allocate()) return true;
  // PLANT(error_path_skips_uncharge)
  if (RESERVOIR_PLANTED(error_path_skips_uncharge) &&
      InjectedSoFar() != injected_before) {
    return false;
  }
  Tree().Uncharge(id, charge);
  return false;
}

constexpr reservoir_gfp_t kWithoutReserves =
    RESERVOIR_GFP_NOMEMALLOC | RESERVOIR_GFP_NOWARN;

uint64_t RoundUpPowerOfTwo(uint64_t x) {
  uint64_t result = 1;
  while (result < x) result <<= 1;
  return result;
}

void* RefKmallocReserve(size_t size, reservoir_gfp_t gfp,
                        reservoir_reserve* res, int* emergency) {
  void* object = reservoir_kmalloc(size, gfp | kWithoutReserves);
  if (object == nullptr && reservoir_gfp_pfmemalloc_allowed(gfp) && size != 0) {
    // PLANT(uncharge_ksize)
    const uint64_t charge =
        RESERVOIR_PLANTED(uncharge_ksize) &&
                size <= reservoir::kKmallocMaxCacheSize
            ? RoundUpPowerOfTwo(size)
            : reservoir_kmalloc_class_size(size);
    if (ChargeAndAllocate(Decode(res), charge, "kmalloc_reserve", [&] {
          object = reservoir_kmalloc(size, gfp);
          return object != nullptr;
        })) {
      *emergency = 1;
    }
  }
  return object;
}

void RefKfreeReserve(void* object, reservoir_reserve* res, int emergency) {
  // What kmalloc_reserve charged: the class size, which is what ksize()
  // reports (the plant charged a power of two instead).
  const uint64_t uncharge = emergency ? reservoir_ksize(object) : 0;
  reservoir_kfree(object);
  if (emergency) Tree().Uncharge(Decode(res), uncharge);
}

reservoir_pfn_t RefAllocPagesReserve(reservoir_gfp_t gfp, unsigned order,
                                     reservoir_reserve* res, int* emergency) {
  reservoir_pfn_t pfn = reservoir_alloc_pages(gfp | kWithoutReserves, order);
  if (pfn == RESERVOIR_NO_PAGE && reservoir_gfp_pfmemalloc_allowed(gfp) &&
      order <= reservoir_max_order()) {
    if (ChargeAndAllocate(Decode(res), uint64_t{RESERVOIR_PAGE_SIZE} << order,
                          "alloc_pages_reserve", [&] {
                            pfn = reservoir_alloc_pages(gfp, order);
                            return pfn != RESERVOIR_NO_PAGE;
                          })) {
      *emergency = 1;
    }
  }
  return pfn;
}

void RefFreePagesReserve(reservoir_pfn_t pfn, unsigned order,
                         reservoir_reserve* res, int emergency) {
  reservoir_free_pages(pfn, order);
  if (emergency) {
    Tree().Uncharge(Decode(res), uint64_t{RESERVOIR_PAGE_SIZE} << order);
  }
}

void* RefCacheAllocReserve(reservoir_kmem_cache* cache, reservoir_gfp_t gfp,
                           reservoir_reserve* res, int* emergency) {
  void* object = reservoir_kmem_cache_alloc(cache, gfp | kWithoutReserves);
  if (object == nullptr && reservoir_gfp_pfmemalloc_allowed(gfp)) {
    if (ChargeAndAllocate(Decode(res), reservoir_kmem_cache_size(cache),
                          "kmem_cache_alloc_reserve", [&] {
                            object = reservoir_kmem_cache_alloc(cache, gfp);
                            return object != nullptr;
                          })) {
      *emergency = 1;
    }
  }
  return object;
}

void RefCacheFreeReserve(reservoir_kmem_cache* cache, void* object,
                         reservoir_reserve* res, int emergency) {
  reservoir_kmem_cache_free(cache, object);
  if (emergency) Tree().Uncharge(Decode(res), reservoir_kmem_cache_size(cache));
}

void RefAudit() { Tree().AuditFull(); }

const reservoir_adapter kReferenceTable = {
    RESERVOIR_ADAPTER_ABI,
    "reference",
    0,
    RefReset,
    RefRoot,
    RefCreate,
    nullptr,  // destroy
    RefConnect,
    RefDisconnect,
    RefPagesSet,
    RefKmallocSet,
    RefCacheSet,
    RefCharge,
    RefUncharge,
    RefQuery,
    RefKmallocReserve,
    RefKfreeReserve,
    RefAllocPagesReserve,
    RefFreePagesReserve,
    RefCacheAllocReserve,
    RefCacheFreeReserve,
    RefAudit,
};

}  // namespace

namespace reservoir::adapter {
const reservoir_adapter* ReferenceAdapter() { return &kReferenceTable; }
}  // namespace reservoir::adapter
