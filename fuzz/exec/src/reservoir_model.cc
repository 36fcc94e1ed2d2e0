// ModelApi over reservoir::Model.
#include "reservoir/exec/reservoir_model.h"

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "reservoir/program/header.h"

namespace reservoir::exec {
namespace {

ReserveGrant ToModelGrant(const Grant& grant) {
  ReserveGrant model_grant;
  model_grant.object = grant.object;
  model_grant.pfn = grant.page;
  model_grant.order = grant.order;
  model_grant.node = grant.node;
  model_grant.charged = grant.charged;
  model_grant.emergency = grant.emergency;
  return model_grant;
}

Grant FromModelGrant(const ReserveGrant& model_grant) {
  Grant grant;
  grant.object = model_grant.object;
  grant.page = model_grant.pfn;
  grant.order = model_grant.order;
  grant.node = model_grant.node;
  grant.charged = model_grant.charged;
  grant.emergency = model_grant.emergency;
  grant.charge_status = static_cast<int>(model_grant.charge_status);
  return grant;
}

int StatusCode(ReserveStatus status) { return static_cast<int>(status); }

}  // namespace

void ReservoirModel::TraceLevels(FILE* out, const char* indent) const {
  const PageAllocator& pages = model_.pages();
  for (int z = 0; z < pages.nr_zones(); ++z) {
    const Zone& zone = pages.zone(z);
    std::fprintf(out,
                 "%s@zone name=%s free=%llu min=%llu low=%llu high=%llu "
                 "strict=%llu pfmemalloc=%llu\n",
                 indent, ZoneName(z),
                 static_cast<unsigned long long>(zone.free_pages),
                 static_cast<unsigned long long>(zone.watermark[0]),
                 static_cast<unsigned long long>(zone.watermark[1]),
                 static_cast<unsigned long long>(zone.watermark[2]),
                 static_cast<unsigned long long>(zone.pages_emerg),
                 static_cast<unsigned long long>(zone.pfmemalloc_pages));
  }
}

CacheHandle ReservoirModel::CacheCreate(const char* name, uint32_t size,
                                        uint32_t align) {
  KmemCache* cache = model_.KmemCacheCreate(name, size, align);
  return cache == nullptr ? kNoCache : cache->id;
}

bool ReservoirModel::CacheDestroy(CacheHandle cache) {
  return model_.KmemCacheDestroy(model_.slab().CacheById(cache));
}

void* ReservoirModel::CacheAlloc(CacheHandle cache, const AllocContext& ctx) {
  return model_.KmemCacheAlloc(model_.slab().CacheById(cache), ctx);
}

void ReservoirModel::CacheFree(CacheHandle cache, void* object, uint16_t cpu) {
  model_.KmemCacheFree(model_.slab().CacheById(cache), object, cpu);
}

int ReservoirModel::ReservePagesSet(ReserveHandle node, uint64_t pages) {
  return StatusCode(model_.reserves().PagesSet(node, pages));
}

int ReservoirModel::ReserveKmallocSet(ReserveHandle node, uint64_t bytes) {
  return StatusCode(model_.reserves().KmallocSet(node, bytes));
}

int ReservoirModel::ReserveCacheSet(ReserveHandle node, CacheHandle cache,
                                    uint64_t objects) {
  return StatusCode(model_.reserves().CacheSet(
      node, model_.slab().CacheById(cache), objects));
}

int ReservoirModel::ReserveConnect(ReserveHandle child, ReserveHandle parent) {
  return StatusCode(model_.reserves().Connect(child, parent));
}

int ReservoirModel::ReserveDisconnect(ReserveHandle child) {
  return StatusCode(model_.reserves().Disconnect(child));
}

int ReservoirModel::ReserveCharge(ReserveHandle node, uint64_t bytes) {
  return StatusCode(model_.reserves().TryCharge(node, bytes, "reserve_charge")
                        .status);
}

ReserveView ReservoirModel::Reserve(ReserveHandle node) const {
  ReserveView view;
  if (!model_.reserves().IsLive(node)) return view;
  const ReserveNode& n = model_.reserves().node(node);
  view.live = true;
  view.parent = n.parent;
  view.pages = n.pages;
  view.limit = n.limit;
  view.usage = n.usage;
  return view;
}

Grant ReservoirModel::KmallocReserve(size_t size, const AllocContext& ctx,
                                     ReserveHandle node) {
  return FromModelGrant(model_.KmallocReserve(size, ctx, node));
}

void ReservoirModel::KfreeReserve(const Grant& grant, uint16_t cpu) {
  model_.KfreeReserve(ToModelGrant(grant), cpu);
}

Grant ReservoirModel::AllocPagesReserve(int order, const AllocContext& ctx,
                                        ReserveHandle node) {
  return FromModelGrant(model_.AllocPagesReserve(order, ctx, node));
}

void ReservoirModel::FreePagesReserve(const Grant& grant) {
  model_.FreePagesReserve(ToModelGrant(grant));
}

Grant ReservoirModel::CacheAllocReserve(CacheHandle cache,
                                        const AllocContext& ctx,
                                        ReserveHandle node) {
  return FromModelGrant(model_.KmemCacheAllocReserve(
      model_.slab().CacheById(cache), ctx, node));
}

void ReservoirModel::CacheFreeReserve(CacheHandle cache, const Grant& grant,
                                      uint16_t cpu) {
  model_.KmemCacheFreeReserve(model_.slab().CacheById(cache),
                              ToModelGrant(grant), cpu);
}

bool ReservoirModel::OnReserveMemory(const void* object) const {
  const Pfn head = model_.pages().AllocatedHeadOf(object);
  if (head == kNoPfn) return false;
  const PageFrame& frame = model_.pages().frame(head);
  if (frame.flags & kPageSlab) return model_.slab().slab(head).pfmemalloc;
  return frame.flags & kPagePfmemalloc;
}

// ReadLevels, ReadPageCounters and BlockOf: reservoir_model_views.cc.

bool ReservoirModel::VisitSlabCandidates(CacheHandle cache,
                                         size_t kmalloc_size, uint16_t cpu,
                                         SlabCandidateVisitor visit,
                                         void* arg) const {
  const SlabAllocator& slab = model_.slab();
  int id = cache;
  if (cache == kNoCache) id = KmallocIndex(kmalloc_size);
  if (id < 0) return false;
  const KmemCache* c = slab.CacheById(static_cast<uint16_t>(id));
  if (c == nullptr) return false;
  const KmemCacheCpu& per_cpu = c->cpu[cpu % slab.nr_cpus()];
  const auto visit_slab = [&](Pfn pfn, SlabList list) {
    const Slab& s = slab.slab(pfn);
    SlabCandidate candidate;
    candidate.slab = pfn;
    candidate.list = list;
    candidate.free_objects = s.objects - s.inuse;
    candidate.tagged = s.pfmemalloc;
    visit(candidate, arg);
  };
  if (per_cpu.slab != kNoPfn) visit_slab(per_cpu.slab, SlabList::kCpuActive);
  for (Pfn pfn = per_cpu.partial; pfn != kNoPfn; pfn = slab.slab(pfn).next) {
    visit_slab(pfn, SlabList::kCpuPartial);
  }
  for (Pfn pfn = c->node_partial; pfn != kNoPfn; pfn = slab.slab(pfn).next) {
    visit_slab(pfn, SlabList::kNodePartial);
  }
  return true;
}

const char* ReservoirModel::LastSlabAllocPath() const {
  return model_.slab().last_alloc_path();
}

uint64_t ReservoirModel::InjectedFailures() const {
  return model_.fault_gate().injected_total();
}

// An adapter build (-DRESERVOIR_ADAPTER=...) defines the pool in
// fuzz/adapter/src/adapter_pool.cc instead, so the default build's pool has
// not one instruction more for it.
uint32_t ModelPool::ArenaCapacity(const ModelConfig& config) {
  return std::max<uint32_t>(
      config.normal_pages + config.highmem_pages,
      *std::max_element(std::begin(program::kNormalPagesTable),
                        std::end(program::kNormalPagesTable)) +
          *std::max_element(std::begin(program::kHighmemPagesTable),
                            std::end(program::kHighmemPagesTable)));
}

#if !defined(RESERVOIR_ADAPTER_BUILD)
namespace {

// The slab allocator builds its kmalloc caches once per CPU count and max
// order and keeps them as templates. Built on first use, an input would
// take the building's edges or not depending on the inputs before it; so a
// new pool model resets once into every pair a program header can ask for,
// and no input ever builds one.
void WarmKmallocTemplates(Model& model, const ModelConfig& config) {
  ModelConfig warm = config;
  warm.normal_pages = *std::max_element(std::begin(program::kNormalPagesTable),
                                        std::end(program::kNormalPagesTable));
  warm.highmem_pages = 0;
  if (warm.normal_pages > model.capacity_pages()) return;
  const int max_order =
      std::min(program::kMaxMaxOrder, program::MaxOrderFor(warm.normal_pages, 0));
  for (uint16_t cpus = 1; cpus <= program::kMaxNrCpus; ++cpus) {
    for (int order = program::kMinMaxOrder; order <= max_order; ++order) {
      warm.nr_cpus = cpus;
      warm.max_order = order;
      if (ValidateConfig(warm) == nullptr) model.Reset(warm);
    }
  }
}

}  // namespace

ReservoirModel& ModelPool::Acquire(const ModelConfig& config) {
  const uint32_t pages = config.normal_pages + config.highmem_pages;
  if (model_ == nullptr || model_->model().capacity_pages() < pages) {
    model_ = std::make_unique<ReservoirModel>(config, ArenaCapacity(config));
    WarmKmallocTemplates(model_->model(), config);
    model_->model().Reset(config);
    return *model_;
  }
  // Qualified: this pool only ever holds a ReservoirModel, so the call
  // stays direct as it was while the class was final.
  model_->ReservoirModel::SetFaultHook(nullptr);
  model_->model().Reset(config);
  return *model_;
}
#endif  // !RESERVOIR_ADAPTER_BUILD

}  // namespace reservoir::exec
