// The second ModelApi: layers 1 and 2 are Reservoir's model (inherited from
// ReservoirModel), layer 3 goes to an adapter's C function table
// (reservoir/adapter.h). Every value the adapter returns is validated; what
// no implementation may return is an adapter-contract report. The oracle
// checks the model makes inside its own reserve wrappers (the guarantee,
// the reserve tree's audit) are made here from the outside, on what the
// adapter reports, with the same classes and places, so findings compare.
//
// Lockstep (optional): the reference reserve tree (a whole second
// ReservoirModel) runs every operation beside the adapter; the first
// operation whose results differ is a divergence report, unless the
// difference is one the adapter declared as a semantic choice, after which
// the two no longer share a state and the oracle alone goes on.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "reservoir/adapter.h"
#include "reservoir/exec/reservoir_model.h"

namespace reservoir::adapter {

using exec::CacheHandle;
using exec::Grant;
using exec::PageHandle;
using exec::ReserveHandle;
using exec::ReserveView;

struct AdapterOptions {
  bool lockstep = false;
  // Choices excused in lockstep besides those the table declares
  // (RESERVOIR_CHOICE_* bits).
  unsigned extra_choices = 0;
};

// The model's own reserve tree behind the C table (reference_adapter.cc).
const reservoir_adapter* ReferenceAdapter();

// Reads RESERVOIR_LOCKSTEP=1 and RESERVOIR_LOCKSTEP_ALLOW=<choice,...>
// (strict-limit, estimator, kmalloc-charge, refusals); a bad value is one
// line on stderr and exit 2.
AdapterOptions AdapterOptionsFromEnvironment(AdapterOptions defaults = {});
// Parses a comma-separated choice list; false on an unknown name.
bool ParseChoices(const char* list, unsigned* out);

class AdapterModel : public exec::ReservoirModel {
 public:
  // Reports adapter-contract at once for a table that is null, of another
  // ABI or missing a required function.
  AdapterModel(const ModelConfig& config, uint32_t capacity_pages,
               const reservoir_adapter* table,
               const AdapterOptions& options = {});
  ~AdapterModel() override;

  // Model reset into `config`, then the adapter's reset (and the lockstep
  // reference's). What the pool calls before every input.
  void ResetInto(const ModelConfig& config);
  void Reset() override;
  void SetFaultHook(FaultHook* hook) override;
  void SetAuditLevel(AuditLevel level) override;

  // Layers 1 and 2 are the model's; in lockstep they also run on the
  // reference so both see the same memory.
  PageHandle AllocPages(int order, const AllocContext& ctx) override;
  void FreePages(PageHandle page, int order) override;
  CacheHandle CacheCreate(const char* name, uint32_t size,
                          uint32_t align) override;
  bool CacheDestroy(CacheHandle cache) override;
  void* CacheAlloc(CacheHandle cache, const AllocContext& ctx) override;
  void CacheFree(CacheHandle cache, void* object, uint16_t cpu) override;
  void* Kmalloc(size_t size, const AllocContext& ctx) override;
  void Kfree(void* object, uint16_t cpu) override;

  // Layer 3: the adapter.
  ReserveHandle ReserveCreate(const char* name, ReserveHandle parent) override;
  ReserveHandle ReserveRoot() const override { return 0; }
  int ReservePagesSet(ReserveHandle node, uint64_t pages) override;
  int ReserveKmallocSet(ReserveHandle node, uint64_t bytes) override;
  int ReserveCacheSet(ReserveHandle node, CacheHandle cache,
                      uint64_t objects) override;
  int ReserveConnect(ReserveHandle child, ReserveHandle parent) override;
  int ReserveDisconnect(ReserveHandle child) override;
  int ReserveCharge(ReserveHandle node, uint64_t bytes) override;
  void ReserveUncharge(ReserveHandle node, uint64_t bytes) override;
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

  void AuditFull() const override;
  void CheckPristine() override;
  // The model's own guarantee decision is about its reserve tree, which an
  // adapter build does not use; this class judges the guarantee from
  // outside (CheckGuarantee), so the executor's coverage comparison has
  // nothing to compare with.
  int GuaranteeActive() const override { return -1; }
  // The schedule is kept here, not in the model (ModelApi's defaults): the
  // model's full audit includes its own reserve tree, which an adapter
  // build does not use, so the due full audit must be this class's
  // AuditFull().
  void SetAuditSchedule(AuditLevel level, uint32_t full_every) override {
    ModelApi::SetAuditSchedule(level, full_every);
  }
  bool EndOperation() override { return ModelApi::EndOperation(); }

  const reservoir_adapter& table() const { return *table_; }
  bool lockstep_active() const { return reference_ != nullptr && in_step_; }

  // For the C half (adapter_api.cc): the call in progress.
  struct Call {
    AllocContext ctx;
    const char* site = "adapter";
    int allocations = 0;              // C-API allocation attempts so far
    uint64_t injected_after_first = 0;  // gate count when the first returned
  };
  static AdapterModel* active() { return active_; }
  Call& call() { return call_; }

  // Encodes a live cache as the opaque pointer the C half hands out, and
  // back (null when the pointer names no live cache).
  static reservoir_kmem_cache* EncodeCache(const KmemCache* cache);
  KmemCache* DecodeCache(const reservoir_kmem_cache* cache);

 private:
  friend class CallScope;
  struct Node {
    reservoir_reserve* ptr = nullptr;
    bool live = false;
    ReserveHandle parent = exec::kNoReserveHandle;  // as the harness saw it
    ReserveKind kind = ReserveKind::kGroup;         // declared by the last set
    uint64_t declared_limit = 0;                    // bytes
    uint16_t cache_id = 0;
    uint32_t cache_generation = 0;
    uint64_t charged = 0;  // live charges against the node itself
  };

  void ResetAdapter();
  ReserveView ViewOf(ReserveHandle node, const char* when) const;
  ReserveHandle HandleOf(const reservoir_reserve* ptr, const char* when) const;
  reservoir_reserve* PtrOf(ReserveHandle node) const;
  bool AttachedToRoot(ReserveHandle node) const;
  bool Budgets(ReserveHandle node, ReserveKind kind,
               const KmemCache* cache) const;
  bool Fits(ReserveHandle node, uint64_t charge) const;
  void AfterReserveOp(ReserveHandle node) const;
  void AfterWrapper() const;
  void CheckGrantObject(const void* object, const char* what,
                        int expected_cache);
  void CheckGuarantee(const char* what, uint64_t size, uint64_t charge,
                      ReserveHandle node, bool guaranteed,
                      uint64_t injected_at_start);
  void SetDemand(ReserveHandle node, int result, ReserveKind kind,
                 uint64_t limit, const KmemCache* cache, bool zero,
                 uint64_t pages_before);
  Grant FinishGrant(void* object, PageHandle page, int order, int emergency,
                    ReserveHandle node, uint64_t usage_before,
                    const char* what);

  // Lockstep.
  void Diverged(const char* place, const char* format, ...) const
      __attribute__((format(printf, 3, 4)));
  bool Excused(unsigned choice);
  void CompareResult(const char* what, bool adapter_ok, bool reference_ok,
                     unsigned excuse);
  void CompareEmergency(const char* what, bool adapter, bool reference);
  void CompareViews(const char* what, unsigned excuse);
  template <typename ReleaseRef, typename CompareBoth>
  void LockstepGrant(const char* what, const Grant& grant, const Grant& ref,
                     unsigned views_excuse, ReleaseRef release_ref,
                     CompareBoth compare_both);
  template <typename FreeRef>
  void EndFree(const char* what, const Grant& grant, unsigned views_excuse,
               FreeRef free_ref);
  ReserveHandle RefNode(int node) const;
  void* RefObject(const void* object) const;
  void MapObject(const void* object, void* ref_object);
  void UnmapObject(const void* object);

  const reservoir_adapter* table_;
  AdapterOptions options_;
  unsigned choices_ = 0;
  Node nodes_[kMaxReserves];
  int next_node_ = 1;
  bool unaccounted_ = false;  // an emergency grant its reserve never budgeted
  // A demand re-set to another target, or to fewer pages, while reserve
  // pages were in use: the guarantee stands down until reset, as the
  // model's does (ReserveTree::demand_changed_in_use, docs/MODEL.md).
  bool demand_changed_in_use_ = false;
  std::unordered_map<const void*, int> live_grants_;  // object -> 1
  Call call_;
  static AdapterModel* active_;

  // Lockstep state.
  std::unique_ptr<exec::ReservoirModel> reference_;
  bool in_step_ = false;
  ReserveHandle ref_node_[64] = {};
  std::unordered_map<const void*, void*> ref_objects_;
  std::unordered_map<CacheHandle, CacheHandle> ref_caches_;
  std::unordered_map<const void*, Grant> ref_grants_;  // adapter object -> ref grant
};

// Sets the active model and the current context for one call into the
// table, and restores the previous ones after.
class CallScope {
 public:
  CallScope(const AdapterModel* model, const AllocContext& ctx,
            const char* site);
  ~CallScope();

 private:
  AdapterModel* previous_;
  AdapterModel::Call saved_;
};

}  // namespace reservoir::adapter
