// The whole model: page allocator, slab allocator and reserve tree wired
// together, the reserve wrappers that use them, the audit and reset. This
// is the API the fuzz executor, the tests and the benchmarks drive.
#pragma once

#include <cstddef>
#include <cstdint>

#include "reservoir/config.h"
#include "reservoir/fault_gate.h"
#include "reservoir/page_allocator.h"
#include "reservoir/reserve_tree.h"
#include "reservoir/slab_allocator.h"

namespace reservoir {

// What a reserve wrapper handed out, and what its free must undo. The
// caller keeps it (as the kernel's callers keep the `emerg` flag).
struct ReserveGrant {
  void* object = nullptr;  // kmalloc / cache object, or the page address
  Pfn pfn = kNoPfn;        // page allocations
  int order = 0;
  ReserveId node = kNoReserve;
  uint64_t charged = 0;    // bytes charged to `node` (0 unless emergency)
  bool emergency = false;  // served from the reserve after a normal failure
  ReserveStatus charge_status = ReserveStatus::kOk;
  bool ok() const { return object != nullptr; }
};

class Model {
 public:
  // `capacity_pages` sizes the arena (at least the config's pages), so the
  // model can later be Reset() into any config whose pages fit.
  explicit Model(const ModelConfig& config, uint32_t capacity_pages = 0);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  void SetFaultHook(FaultHook* hook) { gate_.set_hook(hook); }
  FaultGate& fault_gate() { return gate_; }
  const FaultGate& fault_gate() const { return gate_; }

  // Layer 1.
  Pfn AllocPages(int order, const AllocContext& ctx);
  void FreePages(Pfn pfn, int order);
  // Layer 2.
  KmemCache* KmemCacheCreate(const char* name, uint32_t size, uint32_t align);
  bool KmemCacheDestroy(KmemCache* cache);
  void* KmemCacheAlloc(KmemCache* cache, const AllocContext& ctx);
  // Frees run on `cpu` (the kernel frees on the current CPU).
  void KmemCacheFree(KmemCache* cache, const void* object, uint16_t cpu = 0);
  void* Kmalloc(size_t size, const AllocContext& ctx);
  void Kfree(const void* object, uint16_t cpu = 0);
  size_t Ksize(const void* object) const { return slab_.Ksize(object); }

  // Layer 3 and the reserve wrappers: try the normal allocation first
  // (with __GFP_NOMEMALLOC); on failure, if the caller is entitled and the
  // charge succeeds, allocate from the reserve and record the charge.
  ReserveTree& reserves() { return reserves_; }
  const ReserveTree& reserves() const { return reserves_; }
  ReserveGrant KmallocReserve(size_t size, const AllocContext& ctx,
                              ReserveId node);
  void KfreeReserve(const ReserveGrant& grant, uint16_t cpu = 0);
  ReserveGrant KmemCacheAllocReserve(KmemCache* cache, const AllocContext& ctx,
                                     ReserveId node);
  void KmemCacheFreeReserve(KmemCache* cache, const ReserveGrant& grant,
                            uint16_t cpu = 0);
  ReserveGrant AllocPagesReserve(int order, const AllocContext& ctx,
                                 ReserveId node);
  void FreePagesReserve(const ReserveGrant& grant);

  // The full audit of every layer (reports on the first broken invariant),
  // every slab's objects included.
  void AuditFull() const;
  // Changes how much is checked after each operation from now on.
  void SetAuditLevel(AuditLevel level) { SetAuditSchedule(level, 0); }
  // The one audit schedule of the model and its layers: `level`, and under
  // kFull the full audit after every `full_every`-th EndOperation() (0:
  // after every call, the cheap tier only in between otherwise).
  void SetAuditSchedule(AuditLevel level, uint32_t full_every);
  const AuditSchedule& audit_schedule() const { return audit_; }
  // A driver's operation (one program step, which may make several model
  // calls) ended: runs the full audit when the schedule says it is due,
  // and says whether it did.
  bool EndOperation();
  // Flush slab caches and report reserve-leak unless every page is free and
  // merged, nothing is tagged and every reserve's usage is zero. Call when
  // the user believes everything was freed and every reserve released.
  void CheckPristine();
  bool IsPristine();
  // Back to the state right after construction, in time proportional to
  // what was touched since the last reset. Keeps the fault hook.
  void Reset();
  // Reset() into another config whose pages fit the capacity: what an
  // arena costs to build is paid once, not per config.
  void Reset(const ModelConfig& config);
  uint32_t capacity_pages() const { return pages_.capacity_pages(); }

  PageAllocator& pages() { return pages_; }
  const PageAllocator& pages() const { return pages_; }
  SlabAllocator& slab() { return slab_; }
  const SlabAllocator& slab() const { return slab_; }

  // Set when reserve memory was used outside the reserve wrappers (an
  // entitled plain kmalloc or alloc_pages), or by a wrapper charged to a
  // reserve of another kind. Such use is legitimate but unaccounted, so the
  // guarantee oracle no longer applies until reset.
  bool reserve_used_unaccounted() const { return reserve_used_unaccounted_; }
  // The guarantee oracle stands down (until reset) after unaccounted use,
  // or after a reserve's demand was re-set to another target or fewer pages
  // while reserve pages were in use (ReserveTree::demand_changed_in_use()).
  bool guarantee_stood_down() const {
    return reserve_used_unaccounted_ || reserves_.demand_changed_in_use();
  }
  // Test-only: the guarantee oracle stands down as if reserve memory had
  // been used unaccounted (a death test's wrong stand-down decision).
  void MarkReserveUnaccountedForTesting() { reserve_used_unaccounted_ = true; }

 private:
  void AfterOperation() const;
  // The full audit with the slab layer's touched-only walk
  // (SlabAllocator::AuditTouched()): what the schedule runs between
  // operations and the pristine check runs once a complete walk was made.
  void AuditTouched() const;
  // Charges `charge` bytes, then runs `allocate` with the caller's own
  // context; undoes the charge if it fails, and reports a guarantee
  // violation when the failure cannot be explained. `in_softirq` is the
  // caller's context, for the charge's fault site.
  template <typename Allocate>
  void AllocateEmergency(ReserveGrant* grant, uint64_t charge,
                         bool in_softirq, const char* what, uint64_t size, bool guaranteed,
                         Allocate allocate);
  // Marks reserve use unaccounted when an emergency grant was charged to a
  // reserve whose kind does not budget for it (`budgeted` false).
  bool Budgets(ReserveId node, ReserveKind kind, const KmemCache* cache) const;
  void NoteUnbudgetedUse(const ReserveGrant& grant, bool budgeted);

  ModelConfig config_;
  AuditSchedule audit_;
  FaultGate gate_;
  PageAllocator pages_;
  SlabAllocator slab_;
  ReserveTree reserves_;
  bool reserve_used_unaccounted_ = false;
  // A complete AuditFull() ran since the last reset: the pristine check
  // may then walk only the slabs touched since (the teardown's frees).
  // Otherwise it makes the input's complete walk itself.
  mutable bool complete_audit_done_ = false;
};

}  // namespace reservoir
