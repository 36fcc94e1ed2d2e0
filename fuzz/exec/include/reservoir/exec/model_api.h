// The narrow interface the executor drives. Everything the executor and its
// oracle need from an allocator implementation goes through here, so another
// implementation of the same API can be driven by the same programs and
// compared against Reservoir's model later.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "reservoir/config.h"
#include "reservoir/fault_site.h"
#include "reservoir/gfp.h"

namespace reservoir::exec {

using PageHandle = uint32_t;  // a page frame number
inline constexpr PageHandle kNoPage = UINT32_MAX;
using CacheHandle = int32_t;  // an implementation's cache id
inline constexpr CacheHandle kNoCache = -1;
using ReserveHandle = uint16_t;
inline constexpr ReserveHandle kNoReserveHandle = UINT16_MAX;

// What a reserve wrapper handed out; `charged` is what its free undoes.
struct Grant {
  void* object = nullptr;
  PageHandle page = kNoPage;
  int order = 0;
  ReserveHandle node = kNoReserveHandle;
  uint64_t charged = 0;
  bool emergency = false;
  // The status code of the emergency path's charge (0 = accepted, or the
  // emergency path was not tried), -1 when the implementation does not say.
  int charge_status = -1;
  bool ok() const { return object != nullptr; }
};

// What the oracle may read of a zone before and after a call, to judge
// independently what the request was allowed (the watermark arithmetic of
// DOMAIN.md, recomputed by the executor).
struct ZoneView {
  PageHandle start = 0;
  uint32_t managed = 0;
  uint64_t free = 0;
  uint64_t watermark[3] = {0, 0, 0};  // min, low, high
  uint64_t lowmem_reserve[2] = {0, 0};  // by the request's highest zone
  uint64_t pages_emerg = 0;             // the strict reserve held here
  uint64_t pfmemalloc = 0;              // live tagged pages
  // Bit o set: the zone has a free block of order o (all the judgement
  // asks of the free lists: is there a block of this order or larger).
  uint32_t free_orders = 0;
};
struct LevelsView {
  int nr_zones = 0;  // 0: the implementation shows no levels
  int max_order = 0;
  ZoneView zone[2];
  // Successful page allocations and page frees since reset: a call that
  // raised the first made a new block; one that raised the second freed
  // pages on the way (the levels before it are then not exact).
  uint64_t page_allocs = 0;
  uint64_t page_frees = 0;
};

// The allocated block that holds an object: a slab, a large kmalloc block
// or plain pages.
struct BlockView {
  PageHandle head = kNoPage;
  int order = 0;
  bool slab = false;
  bool tagged = false;  // the implementation's own reserve tag
};

// A slab one CPU could take an object from: its active slab, its per-CPU
// partial slabs and the node partial slabs.
enum class SlabList : uint8_t { kCpuActive, kCpuPartial, kNodePartial };
struct SlabCandidate {
  PageHandle slab = kNoPage;
  SlabList list = SlabList::kNodePartial;
  uint32_t free_objects = 0;
  bool tagged = false;  // the implementation's own reserve tag
};
using SlabCandidateVisitor = void (*)(const SlabCandidate& candidate,
                                      void* arg);

struct ReserveView {
  bool live = false;
  ReserveHandle parent = kNoReserveHandle;
  uint64_t pages = 0;
  uint64_t limit = 0;
  uint64_t usage = 0;
};

class ModelApi {
 public:
  virtual ~ModelApi() = default;

  virtual const ModelConfig& config() const = 0;
  virtual void SetFaultHook(FaultHook* hook) = 0;
  virtual void Reset() = 0;
  virtual int max_order() const = 0;

  // Layer 1.
  virtual PageHandle AllocPages(int order, const AllocContext& ctx) = 0;
  virtual void FreePages(PageHandle page, int order) = 0;
  virtual void* PageAddress(PageHandle page) const = 0;
  // Layer 2.
  virtual CacheHandle CacheCreate(const char* name, uint32_t size,
                                  uint32_t align) = 0;
  virtual bool CacheDestroy(CacheHandle cache) = 0;
  virtual void* CacheAlloc(CacheHandle cache, const AllocContext& ctx) = 0;
  virtual void CacheFree(CacheHandle cache, void* object, uint16_t cpu) = 0;
  virtual void* Kmalloc(size_t size, const AllocContext& ctx) = 0;
  virtual void Kfree(void* object, uint16_t cpu) = 0;
  // Layer 3. Return codes: 0 = ok, anything else = refused (expected).
  virtual ReserveHandle ReserveCreate(const char* name,
                                      ReserveHandle parent) = 0;
  virtual ReserveHandle ReserveRoot() const = 0;
  virtual int ReservePagesSet(ReserveHandle node, uint64_t pages) = 0;
  virtual int ReserveKmallocSet(ReserveHandle node, uint64_t bytes) = 0;
  virtual int ReserveCacheSet(ReserveHandle node, CacheHandle cache,
                              uint64_t objects) = 0;
  virtual int ReserveConnect(ReserveHandle child, ReserveHandle parent) = 0;
  virtual int ReserveDisconnect(ReserveHandle child) = 0;
  virtual int ReserveCharge(ReserveHandle node, uint64_t bytes) = 0;
  virtual void ReserveUncharge(ReserveHandle node, uint64_t bytes) = 0;
  virtual ReserveView Reserve(ReserveHandle node) const = 0;
  // The reserve wrappers.
  virtual Grant KmallocReserve(size_t size, const AllocContext& ctx,
                               ReserveHandle node) = 0;
  virtual void KfreeReserve(const Grant& grant, uint16_t cpu) = 0;
  virtual Grant AllocPagesReserve(int order, const AllocContext& ctx,
                                  ReserveHandle node) = 0;
  virtual void FreePagesReserve(const Grant& grant) = 0;
  virtual Grant CacheAllocReserve(CacheHandle cache, const AllocContext& ctx,
                                  ReserveHandle node) = 0;
  virtual void CacheFreeReserve(CacheHandle cache, const Grant& grant,
                                uint16_t cpu) = 0;

  // What the oracle may ask.
  // True when `object` (or the page) lies on reserve memory: a slab built
  // on a pfmemalloc page, or a pfmemalloc page itself.
  virtual bool OnReserveMemory(const void* object) const = 0;
  // The slab allocation path of the last kmalloc or cache allocation
  // ("cpu-freelist", "node-partial", ...; see slab_allocator.h), which the
  // oracle names in its report place; null when the implementation does
  // not know.
  virtual const char* LastSlabAllocPath() const { return nullptr; }
  // Injected failures so far (since Reset).
  virtual uint64_t InjectedFailures() const = 0;

  // Read-only views for the executor's own checks (provenance, watermark
  // recomputation, completeness, guarantee coverage). Each has a default
  // that says "not shown", and the executor then skips the check that
  // needs it; a wrapping implementation forwards them.
  // False when the implementation shows no zone levels.
  virtual bool ReadLevels(LevelsView* out) const { return false; }
  // LevelsView's page_allocs and page_frees alone: all the oracle reads
  // after a call. This default takes them from ReadLevels; an
  // implementation that can read the two counters directly overrides it.
  virtual bool ReadPageCounters(uint64_t* page_allocs,
                                uint64_t* page_frees) const {
    LevelsView levels;
    if (!ReadLevels(&levels)) return false;
    *page_allocs = levels.page_allocs;
    *page_frees = levels.page_frees;
    return true;
  }
  // False when `object` is in no allocated block (or not shown).
  virtual bool BlockOf(const void* object, BlockView* out) const {
    return false;
  }
  // Visits the slabs `cpu` could take an object of `cache` from (kNoCache:
  // the kmalloc class of `kmalloc_size`). False when not shown.
  virtual bool VisitSlabCandidates(CacheHandle cache, size_t kmalloc_size,
                                   uint16_t cpu, SlabCandidateVisitor visit,
                                   void* arg) const {
    return false;
  }
  // 1 when the implementation's own guarantee oracle currently covers
  // budgeted emergency allocations, 0 when it stands down, -1 unknown.
  virtual int GuaranteeActive() const { return -1; }
  virtual void AuditFull() const = 0;
  // How much the implementation checks after each operation from now on.
  virtual void SetAuditLevel(AuditLevel level) = 0;
  // The audit schedule: `level`, and under kFull the full audit after
  // every `full_every`-th operation ended by EndOperation() (0: after each
  // call). The executor ends each program operation with EndOperation(),
  // which says whether it ran the full audit. This default keeps the
  // schedule here and runs AuditFull() itself; an implementation with its
  // own schedule overrides both.
  virtual void SetAuditSchedule(AuditLevel level, uint32_t full_every) {
    schedule_ = AuditSchedule{};
    schedule_.level = level;
    schedule_.full_every = full_every;
    SetAuditLevel(level == AuditLevel::kFull && full_every != 0
                      ? AuditLevel::kCheap
                      : level);
  }
  virtual bool EndOperation() {
    if (!schedule_.EndOperation()) return false;
    AuditFull();
    return true;
  }
  // Reports reserve-leak unless everything is back to its pristine state.
  virtual void CheckPristine() = 0;

  // For traces: one line per zone, "@zone name=<zone> free=<pages>
  // min=<pages> low=<pages> high=<pages> strict=<pages>
  // pfmemalloc=<pages>", each preceded by `indent` and ended by a newline
  // (docs/TRIAGE.md, "The trace"). An implementation without zones prints
  // nothing.
  virtual void TraceLevels(FILE* out, const char* indent) const {}

 private:
  AuditSchedule schedule_;
};

}  // namespace reservoir::exec
