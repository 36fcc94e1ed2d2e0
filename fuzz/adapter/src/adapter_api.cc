// The Reservoir half of reservoir/adapter.h: a kernel-like API backed by
// the model the active AdapterModel wraps, in the context (task flags, CPU,
// call site) of the program operation being executed.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "reservoir/adapter.h"
#include "reservoir/adapter/adapter_model.h"
#include "reservoir/estimator.h"
#include "reservoir/report.h"

using reservoir::adapter::AdapterModel;

namespace {

AdapterModel& Active(const char* function) {
  AdapterModel* model = AdapterModel::active();
  if (model == nullptr) {
    reservoir::ReportBug(reservoir::BugClass::kAdapterContract,
                         "adapter.api_outside_call", "adapter: %s() was "
                         "called outside a call of the adapter table",
                         function);
  }
  return *model;
}

reservoir::Model& ModelOf(const char* function) {
  return Active(function).model();
}

reservoir::AllocContext WithGfp(AdapterModel& model, reservoir_gfp_t gfp) {
  reservoir::AllocContext ctx = model.call().ctx;
  ctx.gfp = gfp;
  return ctx;
}

// The guarantee oracle excuses a failed wrapper when a fault was injected
// after its first (normal) allocation attempt returned.
void AfterAllocation(AdapterModel& model) {
  AdapterModel::Call& call = model.call();
  if (call.allocations++ == 0) {
    call.injected_after_first = model.model().fault_gate().injected_total();
  }
}

reservoir::KmemCache* Cache(AdapterModel& model,
                            const reservoir_kmem_cache* cache,
                            const char* function) {
  reservoir::KmemCache* kc = model.DecodeCache(cache);
  if (kc == nullptr) {
    reservoir::ReportBug(reservoir::BugClass::kAdapterContract,
                         "adapter.api_unknown_cache", "adapter: %s() got "
                         "cache %p, which names no live cache", function,
                         static_cast<const void*>(cache));
  }
  return kc;
}

void CheckPfn(reservoir::Model& model, reservoir_pfn_t pfn,
              const char* function) {
  if (pfn >= model.pages().nr_pages()) {
    reservoir::ReportBug(reservoir::BugClass::kAdapterContract,
                         "adapter.api_bad_pfn", "adapter: %s() got pfn %u "
                         "outside the arena of %u pages", function, pfn,
                         model.pages().nr_pages());
  }
}

}  // namespace

extern "C" {

unsigned reservoir_current_cpu(void) {
  return Active("reservoir_current_cpu").call().ctx.cpu;
}

unsigned reservoir_nr_cpus(void) {
  return static_cast<unsigned>(ModelOf("reservoir_nr_cpus").config().nr_cpus);
}

unsigned reservoir_current_task_flags(void) {
  const reservoir::AllocContext& ctx =
      Active("reservoir_current_task_flags").call().ctx;
  return (ctx.pf_memalloc ? RESERVOIR_PF_MEMALLOC : 0u) |
         (ctx.oom_victim ? RESERVOIR_PF_OOM_VICTIM : 0u);
}

int reservoir_in_serving_softirq(void) {
  return Active("reservoir_in_serving_softirq").call().ctx.in_softirq ? 1 : 0;
}

unsigned reservoir_memalloc_save(void) {
  reservoir::AllocContext& ctx = Active("reservoir_memalloc_save").call().ctx;
  const unsigned saved = ctx.pf_memalloc ? RESERVOIR_PF_MEMALLOC : 0u;
  ctx.pf_memalloc = true;
  return saved;
}

void reservoir_memalloc_restore(unsigned saved) {
  Active("reservoir_memalloc_restore").call().ctx.pf_memalloc =
      (saved & RESERVOIR_PF_MEMALLOC) != 0;
}

int reservoir_gfp_pfmemalloc_allowed(reservoir_gfp_t gfp) {
  AdapterModel& model = Active("reservoir_gfp_pfmemalloc_allowed");
  return reservoir::IsEntitled(WithGfp(model, gfp)) ? 1 : 0;
}

reservoir_pfn_t reservoir_alloc_pages(reservoir_gfp_t gfp, unsigned order) {
  AdapterModel& model = Active("reservoir_alloc_pages");
  if (order > static_cast<unsigned>(model.max_order())) return RESERVOIR_NO_PAGE;
  const reservoir::PageAllocResult result = model.model().pages().AllocPages(
      static_cast<int>(order), WithGfp(model, gfp), model.call().site);
  AfterAllocation(model);
  return result.pfn;
}

void reservoir_free_pages(reservoir_pfn_t pfn, unsigned order) {
  // The model reports a foreign pfn or a wrong order (invalid-free).
  ModelOf("reservoir_free_pages").pages().FreePages(pfn, static_cast<int>(order));
}

void* reservoir_page_address(reservoir_pfn_t pfn) {
  reservoir::Model& model = ModelOf("reservoir_page_address");
  CheckPfn(model, pfn, "reservoir_page_address");
  return model.pages().PageAddress(pfn);
}

int reservoir_page_is_pfmemalloc(reservoir_pfn_t pfn) {
  reservoir::Model& model = ModelOf("reservoir_page_is_pfmemalloc");
  CheckPfn(model, pfn, "reservoir_page_is_pfmemalloc");
  return (model.pages().frame(pfn).flags & reservoir::kPagePfmemalloc) ? 1 : 0;
}

unsigned reservoir_max_order(void) {
  return static_cast<unsigned>(Active("reservoir_max_order").max_order());
}

uint64_t reservoir_nr_pages(void) {
  return ModelOf("reservoir_nr_pages").pages().nr_pages();
}

void* reservoir_kmalloc(size_t size, reservoir_gfp_t gfp) {
  AdapterModel& model = Active("reservoir_kmalloc");
  void* object = model.model().slab().Kmalloc(size, WithGfp(model, gfp),
                                              model.call().site);
  AfterAllocation(model);
  return object;
}

void reservoir_kfree(const void* object) {
  AdapterModel& model = Active("reservoir_kfree");
  model.model().slab().Kfree(object, model.call().ctx.cpu);
}

size_t reservoir_ksize(const void* object) {
  return ModelOf("reservoir_ksize").slab().Ksize(object);
}

reservoir_kmem_cache* reservoir_kmem_cache_create(const char* name,
                                                  uint32_t size,
                                                  uint32_t align) {
  reservoir::Model& model = ModelOf("reservoir_kmem_cache_create");
  return AdapterModel::EncodeCache(
      model.slab().CacheCreate(name != nullptr ? name : "adapter", size, align));
}

void* reservoir_kmem_cache_alloc(reservoir_kmem_cache* cache,
                                 reservoir_gfp_t gfp) {
  AdapterModel& model = Active("reservoir_kmem_cache_alloc");
  reservoir::KmemCache* kc = Cache(model, cache, "reservoir_kmem_cache_alloc");
  void* object = model.model().slab().CacheAlloc(kc, WithGfp(model, gfp),
                                                 model.call().site);
  AfterAllocation(model);
  return object;
}

void reservoir_kmem_cache_free(reservoir_kmem_cache* cache, void* object) {
  AdapterModel& model = Active("reservoir_kmem_cache_free");
  reservoir::KmemCache* kc = Cache(model, cache, "reservoir_kmem_cache_free");
  model.model().slab().CacheFree(kc, object, model.call().ctx.cpu);
}

int reservoir_kmem_cache_destroy(reservoir_kmem_cache* cache) {
  AdapterModel& model = Active("reservoir_kmem_cache_destroy");
  reservoir::KmemCache* kc = Cache(model, cache, "reservoir_kmem_cache_destroy");
  return model.model().slab().CacheDestroy(kc) ? 0 : -1;
}

uint32_t reservoir_kmem_cache_size(const reservoir_kmem_cache* cache) {
  AdapterModel& model = Active("reservoir_kmem_cache_size");
  return Cache(model, cache, "reservoir_kmem_cache_size")->size;
}

uint32_t reservoir_kmem_cache_object_size(const reservoir_kmem_cache* cache) {
  AdapterModel& model = Active("reservoir_kmem_cache_object_size");
  return Cache(model, cache, "reservoir_kmem_cache_object_size")->object_size;
}

int reservoir_set_strict_reserve(uint64_t pages) {
  return ModelOf("reservoir_set_strict_reserve").pages().SetStrictReserve(pages)
             ? 0
             : -1;
}

uint64_t reservoir_strict_reserve(void) {
  return ModelOf("reservoir_strict_reserve").pages().strict_reserve();
}

uint64_t reservoir_estimate_kmalloc_pages(uint64_t bytes) {
  reservoir::Model& model = ModelOf("reservoir_estimate_kmalloc_pages");
  const reservoir::ModelConfig& config = model.config();
  return reservoir::EstimateKmallocPages(config.estimator, bytes,
                                         config.nr_cpus, config.max_order);
}

uint64_t reservoir_estimate_cache_pages(const reservoir_kmem_cache* cache,
                                        uint64_t objects) {
  AdapterModel& model = Active("reservoir_estimate_cache_pages");
  const reservoir::KmemCache* kc =
      Cache(model, cache, "reservoir_estimate_cache_pages");
  const reservoir::ModelConfig& config = model.model().config();
  const reservoir::SlabGeometry geometry = reservoir::CalculateSlabGeometry(
      kc->size, config.nr_cpus, config.max_order);
  return reservoir::EstimateCachePages(config.estimator, geometry, objects,
                                       config.nr_cpus);
}

uint64_t reservoir_kmalloc_class_size(uint64_t size) {
  return reservoir::KmallocChargeBytes(size);
}

int reservoir_should_fail_reserve_charge(const char* name, uint64_t bytes) {
  AdapterModel& model = Active("reservoir_should_fail_reserve_charge");
  reservoir::FaultGate& gate = model.model().fault_gate();
  if (!gate.armed()) return 0;
  reservoir::FaultCall call;
  call.site = reservoir::FaultSite::kReserveCharge;
  call.size = bytes;
  call.reserve = name;
  call.call_site = model.call().site;
  return gate.ShouldFail(call) ? 1 : 0;
}

int reservoir_should_fail_reserve_set(const char* name, uint64_t size) {
  AdapterModel& model = Active("reservoir_should_fail_reserve_set");
  reservoir::FaultGate& gate = model.model().fault_gate();
  if (!gate.armed()) return 0;
  reservoir::FaultCall call;
  call.site = reservoir::FaultSite::kReserveSet;
  call.size = size;
  call.reserve = name;
  call.call_site = "mem_reserve_set";
  return gate.ShouldFail(call) ? 1 : 0;
}

void reservoir_report_accounting_bug(const char* check, const char* detail) {
  char place[80];
  std::snprintf(place, sizeof(place), "adapter.%s",
                check != nullptr ? check : "");
  if (!reservoir::IsValidBugPlace(place) || std::strchr(place, '/') != nullptr) {
    std::snprintf(place, sizeof(place), "adapter.invalid_check");
  }
  reservoir::ReportBug(reservoir::BugClass::kAccountingImbalance, place,
                       "adapter: %s", detail != nullptr ? detail : "");
}

}  // extern "C"
