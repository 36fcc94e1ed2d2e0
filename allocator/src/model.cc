// The model facade: plain allocation entry points, audit, pristine check
// and reset. The reserve wrappers are in reserve_wrappers.cc.
#include "reservoir/model.h"

#include <cstdio>
#include <cstdlib>

#include "reservoir/plant.h"
#include "reservoir/report.h"
#include "slab_fast_path.h"

namespace reservoir {

Model::Model(const ModelConfig& config, uint32_t capacity_pages)
    : config_(config),
      pages_(config, &gate_, capacity_pages),
      slab_(config, &pages_, &gate_),
      reserves_(config, &pages_, &slab_, &gate_) {
  // A runtime-plant build reads RESERVOIR_PLANT here, so a bad id stops
  // the run before the first operation (plant.h).
  ActivePlant();
  audit_.level = config.audit;
  pages_.UseAuditSchedule(&audit_);
  slab_.UseAuditSchedule(&audit_);
  reserves_.UseAuditSchedule(&audit_);
}

bool Model::EndOperation() {
  if (!audit_.EndOperation()) return false;
  AuditTouched();
  return true;
}

void Model::AfterOperation() const {
  if (audit_.full_after_each_call()) AuditTouched();
}

Pfn Model::AllocPages(int order, const AllocContext& ctx) {
  const PageAllocResult result = pages_.AllocPages(order, ctx, "alloc_pages");
  if (result.via_no_watermarks) reserve_used_unaccounted_ = true;
  AfterOperation();
  return result.pfn;
}

void Model::FreePages(Pfn pfn, int order) {
  pages_.FreePages(pfn, order);
  AfterOperation();
}

KmemCache* Model::KmemCacheCreate(const char* name, uint32_t size,
                                  uint32_t align) {
  return slab_.CacheCreate(name, size, align);
}

bool Model::KmemCacheDestroy(KmemCache* cache) {
  const bool destroyed = slab_.CacheDestroy(cache);
  AfterOperation();
  return destroyed;
}

void* Model::KmemCacheAlloc(KmemCache* cache, const AllocContext& ctx) {
  // The fast path never hands out reserve memory.
  if (void* object = slab_.CacheAllocFast(cache, ctx, nullptr)) {
    AfterOperation();
    return object;
  }
  SlabAllocInfo info;
  void* object = slab_.CacheAllocSlow(cache, ctx, "kmem_cache_alloc", &info);
  if (object != nullptr && info.from_reserve) reserve_used_unaccounted_ = true;
  AfterOperation();
  return object;
}

void Model::KmemCacheFree(KmemCache* cache, const void* object, uint16_t cpu) {
  if (object != nullptr &&
      (cache == nullptr || !slab_.FreeFast(cache, object, cpu))) {
    slab_.CacheFreeSlow(cache, object, cpu);
  }
  AfterOperation();
}

void* Model::Kmalloc(size_t size, const AllocContext& ctx) {
  // The fast path never hands out reserve memory.
  if (void* object = slab_.KmallocFast(size, ctx, nullptr)) {
    AfterOperation();
    return object;
  }
  SlabAllocInfo info;
  void* object = slab_.KmallocSlow(size, ctx, "kmalloc", &info);
  if (object != nullptr && info.from_reserve) reserve_used_unaccounted_ = true;
  AfterOperation();
  return object;
}

void Model::Kfree(const void* object, uint16_t cpu) {
  if (object != nullptr && !slab_.FreeFast(nullptr, object, cpu)) {
    slab_.KfreeSlow(object, cpu);
  }
  AfterOperation();
}

void Model::AuditFull() const {
  pages_.AuditFull();
  slab_.AuditFull();
  reserves_.AuditFull();
  complete_audit_done_ = true;
}

void Model::AuditTouched() const {
  pages_.AuditFull();
  slab_.AuditTouched();
  reserves_.AuditFull();
}

void Model::SetAuditSchedule(AuditLevel level, uint32_t full_every) {
  config_.audit = level;
  audit_ = AuditSchedule{};
  audit_.level = level;
  audit_.full_every = full_every;
}

bool Model::IsPristine() {
  slab_.ShrinkAll();
  return slab_.live_objects() == 0 && pages_.IsPristine() &&
         reserves_.AllUsageZero() && pages_.strict_reserve() == 0;
}

void Model::CheckPristine() {
  // At least one complete walk per input (between two resets): this one,
  // unless AuditFull() made it already (the executor's audit of the final
  // state); then only what changed since, the teardown's frees, is walked.
  if (complete_audit_done_) AuditTouched();
  else AuditFull();
  slab_.ShrinkAll();
  if (slab_.live_objects() != 0) {
    ReportBug(BugClass::kReserveLeak, "model.pristine_slab_objects", "%llu slab objects are still live after "
              "everything was freed",
              static_cast<unsigned long long>(slab_.live_objects()));
  }
  for (ReserveId id = 0; id < kMaxReserves; ++id) {
    const ReserveNode& node = reserves_.node(id);
    if (node.live && node.usage != 0) {
      ReportBug(BugClass::kReserveLeak, "model.pristine_reserve_usage", "reserve '%s' still has %llu bytes "
                "charged after everything was freed", node.name,
                static_cast<unsigned long long>(node.usage));
    }
  }
  if (pages_.strict_reserve() != 0) {
    ReportBug(BugClass::kReserveLeak, "model.pristine_strict_reserve", "the strict reserve still holds %llu "
              "pages after every reserve was released",
              static_cast<unsigned long long>(pages_.strict_reserve()));
  }
  if (!pages_.IsPristine()) {
    char why[160];
    pages_.DescribeNotPristine(why, sizeof(why));
    ReportBug(BugClass::kReserveLeak, "model.pristine_pages", "after everything was freed, %s", why);
  }
}

void Model::Reset(const ModelConfig& config) {
  if (ValidateConfig(config) != nullptr ||
      config.normal_pages + config.highmem_pages > capacity_pages()) {
    std::fprintf(stderr, "reservoir: Reset(config) needs a valid config of "
                 "at most %u pages\n", capacity_pages());
    std::abort();
  }
  config_ = config;
  audit_ = AuditSchedule{};
  audit_.level = config.audit;
  // The page allocator first: it must see its old shape to clean it up.
  pages_.Reconfigure(config);
  slab_.Reconfigure(config);
  reserves_.Reconfigure(config);
  gate_.Reset();
  reserve_used_unaccounted_ = false;
  complete_audit_done_ = false;
}

void Model::Reset() {
  audit_.since_full = 0;
  slab_.Reset();
  reserves_.Reset();
  pages_.Reset();
  gate_.Reset();
  reserve_used_unaccounted_ = false;
  complete_audit_done_ = false;
}

}  // namespace reservoir
