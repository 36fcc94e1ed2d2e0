// ModelApi over Reservoir's own model, and a small pool that keeps models
// alive across inputs so that an input pays for a reset, not for building
// an arena.
#pragma once

#include <memory>

#include "reservoir/exec/model_api.h"
#include "reservoir/model.h"

namespace reservoir::exec {

// Not final: the adapter (fuzz/adapter/) derives from it and replaces
// layer 3 only.
class ReservoirModel : public ModelApi {
 public:
  ReservoirModel(const ModelConfig& config, uint32_t capacity_pages)
      : model_(config, capacity_pages) {}

  Model& model() { return model_; }
  void TraceLevels(FILE* out, const char* indent) const override;

  const ModelConfig& config() const override { return model_.config(); }
  void SetFaultHook(FaultHook* hook) override { model_.SetFaultHook(hook); }
  void Reset() override { model_.Reset(); }
  int max_order() const override { return model_.config().max_order; }

  PageHandle AllocPages(int order, const AllocContext& ctx) override {
    return model_.AllocPages(order, ctx);
  }
  void FreePages(PageHandle page, int order) override {
    model_.FreePages(page, order);
  }
  void* PageAddress(PageHandle page) const override {
    return model_.pages().PageAddress(page);
  }
  CacheHandle CacheCreate(const char* name, uint32_t size,
                          uint32_t align) override;
  bool CacheDestroy(CacheHandle cache) override;
  void* CacheAlloc(CacheHandle cache, const AllocContext& ctx) override;
  void CacheFree(CacheHandle cache, void* object, uint16_t cpu) override;
  void* Kmalloc(size_t size, const AllocContext& ctx) override {
    return model_.Kmalloc(size, ctx);
  }
  void Kfree(void* object, uint16_t cpu) override {
    model_.Kfree(object, cpu);
  }

  ReserveHandle ReserveCreate(const char* name, ReserveHandle parent) override {
    return model_.reserves().Create(name, parent);
  }
  ReserveHandle ReserveRoot() const override { return kRootReserve; }
  int ReservePagesSet(ReserveHandle node, uint64_t pages) override;
  int ReserveKmallocSet(ReserveHandle node, uint64_t bytes) override;
  int ReserveCacheSet(ReserveHandle node, CacheHandle cache,
                      uint64_t objects) override;
  int ReserveConnect(ReserveHandle child, ReserveHandle parent) override;
  int ReserveDisconnect(ReserveHandle child) override;
  int ReserveCharge(ReserveHandle node, uint64_t bytes) override;
  void ReserveUncharge(ReserveHandle node, uint64_t bytes) override {
    model_.reserves().Uncharge(node, bytes);
  }
  ReserveView Reserve(ReserveHandle node) const override;

  Grant KmallocReserve(size_t size, const AllocContext& ctx,
                       ReserveHandle node) override;
  void KfreeReserve(const Grant& grant, uint16_t cpu) override;
  Grant AllocPagesReserve(int order, const AllocContext& ctx,
                          ReserveHandle node) override;
  void FreePagesReserve(const Grant& grant) override;
  Grant CacheAllocReserve(CacheHandle cache, const AllocContext& ctx,
                          ReserveHandle node) override;
  void CacheFreeReserve(CacheHandle cache, const Grant& grant,
                        uint16_t cpu) override;

  bool OnReserveMemory(const void* object) const override;
  bool ReadLevels(LevelsView* out) const override;
  bool ReadPageCounters(uint64_t* page_allocs,
                        uint64_t* page_frees) const override;
  bool BlockOf(const void* object, BlockView* out) const override;
  bool VisitSlabCandidates(CacheHandle cache, size_t kmalloc_size,
                           uint16_t cpu, SlabCandidateVisitor visit,
                           void* arg) const override;
  int GuaranteeActive() const override {
    return model_.guarantee_stood_down() ? 0 : 1;
  }
  const char* LastSlabAllocPath() const override;
  uint64_t InjectedFailures() const override;
  void AuditFull() const override { model_.AuditFull(); }
  void SetAuditLevel(AuditLevel level) override { model_.SetAuditLevel(level); }
  void SetAuditSchedule(AuditLevel level, uint32_t full_every) override {
    model_.SetAuditSchedule(level, full_every);
  }
  bool EndOperation() override { return model_.EndOperation(); }
  void CheckPristine() override { model_.CheckPristine(); }

 private:
  Model model_;
};

// One model, with an arena large enough for every program header, reset
// into each program's configuration: an input pays for a reset, never for
// building an arena.
class ModelPool {
 public:
  ReservoirModel& Acquire(const ModelConfig& config);
  // The arena a new pool model gets: the largest a program header can ask
  // for, or `config`'s when larger. Both pools (this file's and an adapter
  // build's, fuzz/adapter/src/adapter_pool.cc) size it so.
  static uint32_t ArenaCapacity(const ModelConfig& config);

 private:
  std::unique_ptr<ReservoirModel> model_;
};

}  // namespace reservoir::exec
