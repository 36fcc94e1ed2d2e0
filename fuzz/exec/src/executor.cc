// Program execution against a ModelApi, with the shadow-ledger oracle.
#include "reservoir/exec/executor.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <variant>

#include "reservoir/exec/allocation_oracle.h"
#include "reservoir/exec/guarantee_coverage.h"
#include "reservoir/exec/shadow_ledger.h"
#include "reservoir/program/text_format.h"
#include "reservoir/slab_allocator.h"
#include "reservoir/report.h"

namespace reservoir::exec {

using program::Op;
using program::Program;
namespace op = program::op;

namespace {

// Operations between full audits when a program asks for audit=full.
constexpr uint32_t kFullAuditInterval = 8;

struct PageEntry {
  PageHandle page;
  int order;
};
struct ObjectEntry {
  void* object;
  uint16_t cpu;
};
struct CacheObjectEntry {
  void* object;
  CacheHandle cache;
  uint16_t cpu;
};
struct ChargeEntry {
  ReserveHandle node;
  uint64_t bytes;
};
struct GrantEntry {
  Grant grant;
  CacheHandle cache;
  uint16_t cpu;
};

template <class T>
T TakeAt(std::vector<T>& set, size_t index) {
  T entry = set[index];
  set.erase(set.begin() + static_cast<std::ptrdiff_t>(index));
  return entry;
}

// "cache-<n>" and "res-<n>": the names of the first kPrebuiltNames caches
// and reserves of a program are formatted once per process, not per input.
constexpr uint32_t kPrebuiltNames = 256;
struct NumberedNames {
  char names[kPrebuiltNames][16];
  explicit NumberedNames(const char* prefix) {
    for (uint32_t i = 0; i < kPrebuiltNames; ++i) {
      std::snprintf(names[i], sizeof(names[i]), "%s%u", prefix, i);
    }
  }
};
const char* NumberedName(const NumberedNames& table, const char* prefix,
                         uint32_t n, char (&spare)[32]) {
  if (n < kPrebuiltNames) return table.names[n];
  std::snprintf(spare, sizeof(spare), "%s%u", prefix, n);
  return spare;
}
// Built when the program starts, not on first use: a function-local
// static would make the first input that names a cache take its
// initialisation's edges, so coverage would depend on the inputs before.
const NumberedNames kCacheNames("cache-");
const NumberedNames kReserveNames("res-");
const char* CacheName(uint32_t n, char (&spare)[32]) {
  return NumberedName(kCacheNames, "cache-", n, spare);
}
const char* ReserveName(uint32_t n, char (&spare)[32]) {
  return NumberedName(kReserveNames, "res-", n, spare);
}

// Writing the first and last bytes lets ASan see any object the model
// hands out too small, without writing tens of kilobytes per operation.
void Scribble(void* object, size_t size) {
  uint8_t* bytes = static_cast<uint8_t*>(object);
  const size_t edge = std::min<size_t>(size, 64);
  std::memset(bytes, 0xa5, edge);
  std::memset(bytes + size - edge, 0xa5, edge);
}

}  // namespace

struct Executor::State {
  ModelApi* api = nullptr;
  const Program* program = nullptr;
  ExecOptions options;
  ExecStats stats;
  size_t op_index = 0;
  bool running = false;

  // The simulated task and interrupt state.
  bool pf_memalloc = false;
  bool in_softirq = false;
  bool oom_victim = false;

  // The live sets, in program order (operations index them modulo size).
  std::vector<PageEntry> pages;
  std::vector<ObjectEntry> kmalloc_objects;
  std::vector<CacheHandle> caches;
  std::vector<CacheObjectEntry> cache_objects;
  std::vector<ReserveHandle> reserves;  // [0] is the root
  std::vector<ChargeEntry> charges;
  std::vector<GrantEntry> kmalloc_grants;
  std::vector<GrantEntry> page_grants;
  std::vector<GrantEntry> cache_grants;
  std::vector<PageEntry> pressure;

  ShadowLedger ledger;
  AllocationOracle oracle;
  GuaranteeCoverage coverage;
  bool checks = true;  // options.request_checks
  uint32_t created_caches = 0;
  uint32_t created_reserves = 0;

  // Every run starts with the live sets at this capacity, whatever the
  // runs before it grew them to: a push_back that reallocates takes other
  // edges than one that does not, and which one an input takes must depend
  // on that input only. A run that grows a set past it gives the memory
  // back at its end (ReleaseGrowth), so the cost is its own.
  static constexpr size_t kLiveSetCapacity = 2 * program::kMaxOps;
  template <class T>
  static void Restore(std::vector<T>& set) {
    if (set.capacity() == kLiveSetCapacity) return;
    std::vector<T> fresh;
    fresh.reserve(kLiveSetCapacity);
    set.swap(fresh);
  }
  void ReleaseGrowth() {
    Restore(pages);
    Restore(kmalloc_objects);
    Restore(caches);
    Restore(cache_objects);
    Restore(reserves);
    Restore(charges);
    Restore(kmalloc_grants);
    Restore(page_grants);
    Restore(cache_grants);
    Restore(pressure);
  }

  void Clear() {
    stats = ExecStats{};
    op_index = 0;
    pf_memalloc = in_softirq = oom_victim = false;
    pages.clear();
    kmalloc_objects.clear();
    caches.clear();
    cache_objects.clear();
    reserves.clear();
    charges.clear();
    kmalloc_grants.clear();
    page_grants.clear();
    cache_grants.clear();
    pressure.clear();
    ledger.Clear();
    created_caches = created_reserves = 0;
  }

  AllocContext Context(uint8_t gfp, uint32_t cpu) const {
    AllocContext ctx;
    ctx.gfp = gfp;
    ctx.pf_memalloc = pf_memalloc;
    ctx.in_softirq = in_softirq;
    ctx.oom_victim = oom_victim;
    ctx.cpu = static_cast<uint16_t>(cpu % api->config().nr_cpus);
    return ctx;
  }

  // The attempts the allocator makes for a plain request: one, or under
  // the no-mixing policy for an entitled slab request a normal pass with
  // __GFP_NOMEMALLOC and then one with reserve access.
  AttemptList PlainAttempts(const AllocContext& ctx, bool slab) const {
    AttemptList attempts;
    if (slab && IsEntitled(ctx) &&
        api->config().slab_policy == SlabPolicy::kNoMixing) {
      AllocContext normal = ctx;
      normal.gfp |= kGfpNoMemalloc;
      attempts.Add(normal, false);
    }
    attempts.Add(ctx, IsEntitled(ctx));
    return attempts;
  }
  // A reserve wrapper's first attempt: nothing anyone else could not have.
  static AllocContext WithoutReserves(const AllocContext& ctx) {
    AllocContext normal = ctx;
    normal.gfp |= kGfpNoMemalloc | kGfpNoWarn;
    return normal;
  }
  // The attempts behind a wrapper's result: the normal one alone, the
  // emergency ones alone (the normal one failed first, changing nothing),
  // or for a failure both when the charge was accepted. Empty when the
  // implementation does not say whether it was.
  AttemptList WrapperAttempts(const AllocContext& ctx, const Grant& grant,
                              bool slab, bool tried) const {
    if (grant.ok() && grant.emergency) return PlainAttempts(ctx, slab);
    AttemptList attempts;
    attempts.Add(WithoutReserves(ctx), false);
    if (grant.ok() || !IsEntitled(ctx) || !tried) return attempts;
    if (grant.charge_status < 0) return AttemptList{};
    if (grant.charge_status == 0) {
      const AttemptList emergency = PlainAttempts(ctx, slab);
      for (int i = 0; i < emergency.count; ++i) {
        attempts.Add(emergency.at[i].ctx, emergency.at[i].reserve_ok);
      }
    }
    return attempts;
  }
  SlabTarget KmallocTarget(size_t size, const AllocContext& ctx) const {
    SlabTarget target;
    target.kmalloc_size = size;
    const int index = KmallocIndex(size);
    target.slot_size = index >= 0 ? KmallocClassSize(index)
                                  : static_cast<uint32_t>(std::min<size_t>(
                                        size, UINT32_MAX));
    target.cpu = ctx.cpu;
    return target;
  }
  SlabTarget CacheTarget(CacheHandle cache, const AllocContext& ctx) const {
    SlabTarget target;
    target.cache = cache;
    target.slot_size = coverage.SlotSize(cache);
    target.cpu = ctx.cpu;
    return target;
  }

  // The guarantee, decided by the executor: an emergency allocation that
  // failed although the executor covers it must have been reported by the
  // implementation's own oracle; arriving here means it let it pass.
  void CheckGuaranteeMissed(const char* what, const AllocContext& ctx,
                            const Grant& grant, ReserveHandle node,
                            GuaranteeCoverage::Demand kind, CacheHandle cache,
                            bool shape_covered) const {
    if (!checks || grant.ok() || !IsEntitled(ctx) || grant.charge_status != 0 ||
        !shape_covered || oracle.injected_during_call() ||
        coverage.stood_down() || !coverage.Budgets(ledger, node, kind, cache)) {
      return;
    }
    char place[80];
    std::snprintf(place, sizeof(place), "exec.guarantee_missed/%s", what);
    ReportBug(BugClass::kGuaranteeViolation, place, "executor: %s failed for "
              "reserve #%u within its limit, no fault injected, and the "
              "executor covers it, but the implementation did not report it",
              what, node);
  }

  // The coverage decisions must agree after every operation.
  void CheckCoverageAgrees() const {
    if (!checks) return;
    const int active = api->GuaranteeActive();
    if (active < 0 || (active == 1) == !coverage.stood_down()) return;
    char place[80];
    std::snprintf(place, sizeof(place), "exec.guarantee_coverage/%s",
                  program::OpName(program::KindOf(program->ops[op_index])));
    ReportBug(BugClass::kGuaranteeViolation, place, "executor: the "
              "implementation's guarantee oracle %s, the executor's %s",
              active == 1 ? "covers budgeted emergencies" : "stands down",
              coverage.stood_down() ? "stands down" : "covers them");
  }

  // The CPU a free runs on: the allocating one (`own`, a free's
  // `cpu` argument left at 0), or CPU cpu - 1 modulo nr_cpus: a remote free
  // into another CPU's slab.
  uint16_t FreeCpu(uint32_t free_cpu, uint16_t own) const {
    if (free_cpu == program::kFreeOnOwnCpu) return own;
    return static_cast<uint16_t>((free_cpu - 1) % api->config().nr_cpus);
  }

  int ClampOrder(uint32_t order) const {
    return static_cast<int>(std::min<uint32_t>(order, api->max_order()));
  }

  // The ledger's report names the operation after which it disagreed (or
  // teardown), so that bugs in different operations get different places.
  void CheckLedger() const {
    const char* when = "teardown";
    if (running && program != nullptr && op_index < program->ops.size()) {
      when = program::OpName(program::KindOf(program->ops[op_index]));
    }
    ledger.Check(*api, reserves, when);
  }
  void CheckLedgerAfter(const char* op_name) const {
    ledger.Check(*api, reserves, op_name);
  }

  // No request without reserve access may get reserve memory.
  void CheckNoReserveMemory(const void* object, const char* what,
                            const AllocContext& ctx) const {
    if (object != nullptr && api->OnReserveMemory(object)) {
      // The place names the slab path the object came by when the model
      // knows it (one bug, one place, whichever call reached it), else the
      // call.
      const bool slab_call = std::strcmp(what, "alloc_pages") != 0 &&
                             std::strcmp(what, "alloc_pages_reserve") != 0 &&
                             std::strcmp(what, "pressure") != 0;
      const char* path = slab_call ? api->LastSlabAllocPath() : nullptr;
      char place[80];
      std::snprintf(place, sizeof(place), "exec.reserve_memory_unentitled/%s",
                    path != nullptr ? path : what);
      ReportBug(BugClass::kSlabMixing, place, "executor: %s for a request without "
                "reserve access (gfp %#x, pf_memalloc %d, softirq %d, cpu %u) "
                "returned reserve memory", what, ctx.gfp, pf_memalloc,
                in_softirq, ctx.cpu);
    }
  }
};

// One visitor per operation kind. An operation whose live set is empty, or
// whose call is refused, changes nothing.
class Executor::Runner {
 public:
  Runner(State& s, FaultPlan& faults) : s_(s), faults_(faults) {}

  void operator()(const op::Nop&) { Noop(); }

  void operator()(const op::AllocPages& o) {
    const AllocContext ctx = s_.Context(o.gfp, o.cpu);
    const int order = s_.ClampOrder(o.order);
    Before();
    const PageHandle page = s_.api->AllocPages(order, ctx);
    if (page == kNoPage) {
      AfterPages("alloc_pages", s_.PlainAttempts(ctx, false), order, kNoPage);
      return Failed();
    }
    if (!IsEntitled(ctx)) {
      s_.CheckNoReserveMemory(s_.api->PageAddress(page), "alloc_pages", ctx);
    }
    // An entitled plain allocation that needed the reserve is unaccounted.
    if (AfterPages("alloc_pages", s_.PlainAttempts(ctx, false), order, page) ==
        ProvenanceRecord::Origin::kReserve) {
      s_.coverage.StandDown();
    }
    ScribblePages(page, order);
    s_.pages.push_back({page, order});
    Done();
  }

  void operator()(const op::FreePages& o) {
    if (s_.pages.empty()) return Noop();
    const PageEntry entry = TakeAt(s_.pages, o.page % s_.pages.size());
    s_.api->FreePages(entry.page, entry.order);
    s_.oracle.Freed(entry.page);
    Done();
  }

  void operator()(const op::Kmalloc& o) {
    const AllocContext ctx = s_.Context(o.gfp, o.cpu);
    Before();
    void* object = s_.api->Kmalloc(o.size, ctx);
    const bool slab = KmallocIndex(o.size) >= 0;
    if (object == nullptr) {
      if (o.size != 0) {
        AfterSlab("kmalloc", s_.PlainAttempts(ctx, slab),
                  s_.KmallocTarget(o.size, ctx), nullptr);
      }
      return Failed();
    }
#if defined(RESERVOIR_PLANT_msan_uninit_read)
    // PLANT(msan_uninit_read): branch on the first byte of the object just
    // allocated, before anything wrote it. Unless the caller asked for
    // __GFP_ZERO it is uninitialised: MemorySanitizer must report it, with
    // the model's allocation (__msan_allocated_memory) as the origin.
    static volatile int plant_sink;
    if (static_cast<const volatile unsigned char*>(object)[0] == 0xa5) {
      plant_sink = 1;
    }
#endif
    if (!IsEntitled(ctx)) s_.CheckNoReserveMemory(object, "kmalloc", ctx);
    if (AfterSlab("kmalloc", s_.PlainAttempts(ctx, slab),
                  s_.KmallocTarget(o.size, ctx), object) ==
        ProvenanceRecord::Origin::kReserve) {
      s_.coverage.StandDown();
    }
    Scribble(object, o.size);
    s_.kmalloc_objects.push_back({object, ctx.cpu});
    Done();
  }

  void operator()(const op::Kfree& o) {
    if (s_.kmalloc_objects.empty()) return Noop();
    const ObjectEntry entry =
        TakeAt(s_.kmalloc_objects, o.obj % s_.kmalloc_objects.size());
    s_.api->Kfree(entry.object, s_.FreeCpu(o.cpu, entry.cpu));
    Done();
  }

  void operator()(const op::CacheCreate& o) {
    char spare[32];
    const CacheHandle cache = s_.api->CacheCreate(
        CacheName(s_.created_caches++, spare), o.size, o.align);
    if (cache == kNoCache) return Failed();
    // The slot: the object size rounded up to the alignment, at least 8.
    const uint32_t align = std::max<uint32_t>(o.align, 8);
    s_.coverage.CacheCreated(cache, (o.size + align - 1) / align * align);
    s_.caches.push_back(cache);
    Done();
  }

  void operator()(const op::CacheAlloc& o) {
    if (s_.caches.empty()) return Noop();
    const CacheHandle cache = s_.caches[o.cache % s_.caches.size()];
    const AllocContext ctx = s_.Context(o.gfp, o.cpu);
    Before();
    void* object = s_.api->CacheAlloc(cache, ctx);
    if (object == nullptr) {
      AfterSlab("cache_alloc", s_.PlainAttempts(ctx, true),
                s_.CacheTarget(cache, ctx), nullptr);
      return Failed();
    }
    if (!IsEntitled(ctx)) s_.CheckNoReserveMemory(object, "cache_alloc", ctx);
    if (AfterSlab("cache_alloc", s_.PlainAttempts(ctx, true),
                  s_.CacheTarget(cache, ctx), object) ==
        ProvenanceRecord::Origin::kReserve) {
      s_.coverage.StandDown();
    }
    s_.cache_objects.push_back({object, cache, ctx.cpu});
    Done();
  }

  void operator()(const op::CacheFree& o) {
    if (s_.cache_objects.empty()) return Noop();
    const CacheObjectEntry entry =
        TakeAt(s_.cache_objects, o.obj % s_.cache_objects.size());
    s_.api->CacheFree(entry.cache, entry.object, s_.FreeCpu(o.cpu, entry.cpu));
    Done();
  }

  void operator()(const op::CacheDestroy& o) {
    if (s_.caches.empty()) return Noop();
    const size_t index = o.cache % s_.caches.size();
    const CacheHandle cache = s_.caches[index];
    // Destroying a cache whose objects (or grants) live is refused by the
    // allocator; the executor keeps the cache then.
    if (!s_.api->CacheDestroy(cache)) return Failed();
    s_.caches.erase(s_.caches.begin() + static_cast<std::ptrdiff_t>(index));
    Done();
  }

  void operator()(const op::ReserveCreate& o) {
    const ReserveHandle parent = Reserve(o.parent);
    char spare[32];
    const ReserveHandle node = s_.api->ReserveCreate(
        ReserveName(s_.created_reserves++, spare), parent);
    if (node == kNoReserveHandle) return Failed();
    s_.reserves.push_back(node);
    s_.ledger.Created(node, parent);
    AfterReserveChange();
  }

  void operator()(const op::ReserveSetPages& o) {
    const ReserveHandle node = Reserve(o.res);
    const uint64_t before = s_.api->Reserve(node).pages;
    const int result = s_.api->ReservePagesSet(node, o.pages);
    DemandSet(result, node, GuaranteeCoverage::Demand::kPages, kNoCache,
              o.pages, before);
    Outcome(result);
  }

  void operator()(const op::ReserveSetKmalloc& o) {
    const ReserveHandle node = Reserve(o.res);
    const uint64_t before = s_.api->Reserve(node).pages;
    const int result = s_.api->ReserveKmallocSet(node, o.bytes);
    DemandSet(result, node, GuaranteeCoverage::Demand::kKmalloc, kNoCache,
              o.bytes, before);
    Outcome(result);
  }

  void operator()(const op::ReserveSetCache& o) {
    if (s_.caches.empty()) return Noop();
    const ReserveHandle node = Reserve(o.res);
    const CacheHandle cache = s_.caches[o.cache % s_.caches.size()];
    const uint64_t before = s_.api->Reserve(node).pages;
    const int result = s_.api->ReserveCacheSet(node, cache, o.objects);
    DemandSet(result, node, GuaranteeCoverage::Demand::kCache, cache,
              o.objects, before);
    Outcome(result);
  }

  void operator()(const op::ReserveConnect& o) {
    const ReserveHandle child = Reserve(o.res);
    const ReserveHandle parent = Reserve(o.parent);
    const int result = s_.api->ReserveConnect(child, parent);
    if (result == 0) s_.ledger.Attached(child, parent);
    Outcome(result);
  }

  void operator()(const op::ReserveDisconnect& o) {
    const ReserveHandle child = Reserve(o.res);
    const int result = s_.api->ReserveDisconnect(child);
    if (result == 0) s_.ledger.Detached(child);
    Outcome(result);
  }

  void operator()(const op::ReserveCharge& o) {
    const ReserveHandle node = Reserve(o.res);
    const int result = s_.api->ReserveCharge(node, o.bytes);
    if (result == 0) {
      s_.charges.push_back({node, o.bytes});
      s_.ledger.Charged(node, o.bytes);
    }
    Outcome(result);
  }

  void operator()(const op::ReserveUncharge& o) {
    if (s_.charges.empty()) return Noop();
    const ChargeEntry entry = TakeAt(s_.charges, o.charge % s_.charges.size());
    s_.api->ReserveUncharge(entry.node, entry.bytes);
    s_.ledger.Uncharged(entry.node, entry.bytes);
    AfterReserveChange();
  }

  void operator()(const op::KmallocReserve& o) {
    const AllocContext ctx = s_.Context(o.gfp, o.cpu);
    const ReserveHandle node = Reserve(o.res);
    Before();
    const Grant grant = s_.api->KmallocReserve(o.size, ctx, node);
    const bool slab = KmallocIndex(o.size) >= 0;
    const AttemptList attempts =
        s_.WrapperAttempts(ctx, grant, slab, /*tried=*/o.size != 0);
    // The guarantee first: a covered emergency that failed is that bug,
    // whatever else the failure breaks.
    s_.CheckGuaranteeMissed("kmalloc_reserve", ctx, grant, node,
                            GuaranteeCoverage::Demand::kKmalloc, kNoCache,
                            slab && KmallocClassSize(KmallocIndex(o.size)) <=
                                        kPageSize);
    if (o.size != 0) {
      AfterSlab("kmalloc_reserve", attempts, s_.KmallocTarget(o.size, ctx),
                grant.object);
    }
    if (!grant.ok()) return FailedGrant();
    Granted(grant, ctx, "kmalloc_reserve");
    EmergencyBudget(grant, GuaranteeCoverage::Demand::kKmalloc, kNoCache);
    Scribble(grant.object, o.size);
    s_.kmalloc_grants.push_back({grant, kNoCache, ctx.cpu});
    AfterReserveChange();
  }

  void operator()(const op::KfreeReserve& o) {
    if (s_.kmalloc_grants.empty()) return Noop();
    const GrantEntry entry =
        TakeAt(s_.kmalloc_grants, o.grant % s_.kmalloc_grants.size());
    s_.api->KfreeReserve(entry.grant, s_.FreeCpu(o.cpu, entry.cpu));
    Ungranted(entry.grant);
  }

  void operator()(const op::AllocPagesReserve& o) {
    const AllocContext ctx = s_.Context(o.gfp, o.cpu);
    const int order = s_.ClampOrder(o.order);
    const ReserveHandle node = Reserve(o.res);
    Before();
    const Grant grant = s_.api->AllocPagesReserve(order, ctx, node);
    s_.CheckGuaranteeMissed("alloc_pages_reserve", ctx, grant, node,
                            GuaranteeCoverage::Demand::kPages, kNoCache,
                            order == 0);
    AfterPages("alloc_pages_reserve",
               s_.WrapperAttempts(ctx, grant, false, /*tried=*/true), order,
               grant.ok() ? grant.page : kNoPage);
    if (!grant.ok()) return FailedGrant();
    Granted(grant, ctx, "alloc_pages_reserve");
    EmergencyBudget(grant, GuaranteeCoverage::Demand::kPages, kNoCache);
    ScribblePages(grant.page, grant.order);
    s_.page_grants.push_back({grant, kNoCache, ctx.cpu});
    AfterReserveChange();
  }

  void operator()(const op::FreePagesReserve& o) {
    if (s_.page_grants.empty()) return Noop();
    const GrantEntry entry =
        TakeAt(s_.page_grants, o.grant % s_.page_grants.size());
    s_.api->FreePagesReserve(entry.grant);
    Ungranted(entry.grant);
  }

  void operator()(const op::CacheAllocReserve& o) {
    if (s_.caches.empty()) return Noop();
    const CacheHandle cache = s_.caches[o.cache % s_.caches.size()];
    const AllocContext ctx = s_.Context(o.gfp, o.cpu);
    const ReserveHandle node = Reserve(o.res);
    Before();
    const Grant grant = s_.api->CacheAllocReserve(cache, ctx, node);
    s_.CheckGuaranteeMissed("cache_alloc_reserve", ctx, grant, node,
                            GuaranteeCoverage::Demand::kCache, cache,
                            s_.coverage.SlotSize(cache) <= kPageSize);
    AfterSlab("cache_alloc_reserve",
              s_.WrapperAttempts(ctx, grant, true, /*tried=*/true),
              s_.CacheTarget(cache, ctx), grant.object);
    if (!grant.ok()) return FailedGrant();
    Granted(grant, ctx, "cache_alloc_reserve");
    EmergencyBudget(grant, GuaranteeCoverage::Demand::kCache, cache);
    s_.cache_grants.push_back({grant, cache, ctx.cpu});
    AfterReserveChange();
  }

  void operator()(const op::CacheFreeReserve& o) {
    if (s_.cache_grants.empty()) return Noop();
    const GrantEntry entry =
        TakeAt(s_.cache_grants, o.grant % s_.cache_grants.size());
    s_.api->CacheFreeReserve(entry.cache, entry.grant,
                             s_.FreeCpu(o.cpu, entry.cpu));
    Ungranted(entry.grant);
  }

  void operator()(const op::SetPfMemalloc&) { s_.pf_memalloc = true; Done(); }
  void operator()(const op::ClearPfMemalloc&) { s_.pf_memalloc = false; Done(); }
  void operator()(const op::EnterSoftirq&) { s_.in_softirq = true; Done(); }
  void operator()(const op::LeaveSoftirq&) { s_.in_softirq = false; Done(); }
  void operator()(const op::SetOomVictim&) { s_.oom_victim = true; Done(); }
  void operator()(const op::ClearOomVictim&) { s_.oom_victim = false; Done(); }

  void operator()(const op::Pressure& o) {
    // Unentitled users, whatever the task state: they never reach the
    // reserve, only their watermarks.
    AllocContext ctx;
    ctx.gfp = (o.gfp | kGfpNoMemalloc) & ~(kGfpMemalloc | kGfpNoFail | kGfpZero);
    ctx.cpu = static_cast<uint16_t>(o.cpu % s_.api->config().nr_cpus);
    // Greedy, largest blocks first: as many pages as asked or as the
    // watermarks allow, in a handful of calls rather than one per page.
    uint32_t taken = 0;
    for (int order = s_.api->max_order(); order >= 0; --order) {
      while (o.pages - taken >= (1u << order)) {
        Before();
        const PageHandle page = s_.api->AllocPages(order, ctx);
        AttemptList attempts;
        attempts.Add(ctx, false);
        if (page == kNoPage) {
          AfterPages("pressure", attempts, order, kNoPage);
          break;
        }
        s_.CheckNoReserveMemory(s_.api->PageAddress(page), "pressure", ctx);
        AfterPages("pressure", attempts, order, page);
        s_.pressure.push_back({page, order});
        taken += 1u << order;
      }
    }
    if (taken < o.pages) ++s_.stats.alloc_failures;
    Done();
  }

  void operator()(const op::ReleasePressure&) {
    if (s_.pressure.empty()) return Noop();
    for (const PageEntry& e : s_.pressure) {
      s_.api->FreePages(e.page, e.order);
      s_.oracle.Freed(e.page);
    }
    s_.pressure.clear();
    Done();
  }

  void operator()(const op::FailNext& o) {
    faults_.FailNext(o.site, o.skip);
    Done();
  }

  void operator()(const op::Audit&) {
    s_.api->AuditFull();
    s_.CheckLedger();
    Done();
  }

 private:
  void Before() {
    if (s_.checks) s_.oracle.Before();
  }
  ProvenanceRecord::Origin AfterPages(const char* what,
                                      const AttemptList& attempts, int order,
                                      PageHandle page) {
    if (!s_.checks) return ProvenanceRecord::Origin::kUnknown;
    return s_.oracle.AfterPages(what, attempts, order, page);
  }
  ProvenanceRecord::Origin AfterSlab(const char* what,
                                     const AttemptList& attempts,
                                     const SlabTarget& target,
                                     const void* object) {
    if (!s_.checks) return ProvenanceRecord::Origin::kUnknown;
    return s_.oracle.AfterSlab(what, attempts, target, object,
                               object != nullptr ? s_.api->LastSlabAllocPath()
                                                 : nullptr);
  }
  // A successful set replaces the node's declared demand.
  void DemandSet(int result, ReserveHandle node, GuaranteeCoverage::Demand kind,
                 CacheHandle cache, uint64_t units, uint64_t pages_before) {
    if (result != 0 || !s_.checks) return;
    s_.oracle.Before();  // the tagged pages now live
    s_.coverage.DemandSet(node, kind, cache, units, pages_before,
                          s_.api->Reserve(node).pages,
                          s_.oracle.reserve_pages_in_use());
  }
  // An emergency grant against a reserve whose estimate does not budget
  // it is unaccounted reserve use; and only an entitled request may have
  // one at all.
  void EmergencyBudget(const Grant& grant, GuaranteeCoverage::Demand kind,
                       CacheHandle cache) {
    if (!s_.checks || !grant.emergency) return;
    if (!s_.coverage.Budgets(s_.ledger, grant.node, kind, cache)) {
      s_.coverage.StandDown();
    }
  }

  void Done() { ++s_.stats.ops; }
  void Noop() { ++s_.stats.noops; }
  void Failed() {
    ++s_.stats.ops;
    ++s_.stats.alloc_failures;
  }
  // A reserve wrapper that fails must leave no charge behind (its error
  // paths uncharge what they charged): the ledger is checked right there,
  // so such a leak is reported at the failing operation, not at teardown.
  void FailedGrant() {
    Failed();
    s_.CheckLedger();
  }

  // A refused reserve operation is expected; the ledger is checked anyway.
  void Outcome(int result) {
    if (result != 0) ++s_.stats.alloc_failures;
    AfterReserveChange();
  }

  void AfterReserveChange() {
    ++s_.stats.ops;
    s_.CheckLedger();
  }

  ReserveHandle Reserve(uint8_t index) const {
    return s_.reserves[index % s_.reserves.size()];
  }

  void ScribblePages(PageHandle page, int order) {
    // The first and last 64 bytes of the block: enough to catch a block
    // handed out twice or too small, without writing megabytes.
    Scribble(s_.api->PageAddress(page), static_cast<size_t>(kPageSize) << order);
  }

  void Granted(const Grant& grant, const AllocContext& ctx, const char* what) {
    if (grant.emergency && s_.checks && !IsEntitled(ctx)) {
      char place[80];
      std::snprintf(place, sizeof(place), "exec.reserve_grant_unentitled/%s",
                    what);
      ReportBug(BugClass::kSlabMixing, place, "executor: %s gave an emergency "
                "grant to a request without reserve access (gfp %#x, "
                "pf_memalloc %d, softirq %d)", what, ctx.gfp, ctx.pf_memalloc,
                ctx.in_softirq);
    }
    if (grant.emergency) {
      ++s_.stats.emergencies;
      s_.ledger.Charged(grant.node, grant.charged);
      return;
    }
    // The wrapper's first attempt forbids reserves (__GFP_NOMEMALLOC).
    if (grant.charged != 0) {
      ReportBug(BugClass::kAccountingImbalance, "exec.charge_without_reserve", "executor: %s charged %llu "
                "bytes for an allocation it did not take from the reserve",
                what, static_cast<unsigned long long>(grant.charged));
    }
    s_.CheckNoReserveMemory(grant.object, what, ctx);
  }

  void Ungranted(const Grant& grant) {
    if (grant.emergency) s_.ledger.Uncharged(grant.node, grant.charged);
    AfterReserveChange();
  }

  State& s_;
  FaultPlan& faults_;
};

Executor::Executor() : state_(std::make_unique<State>()) {
  state_->ReleaseGrowth();  // the live sets' starting capacity
  report_registered_ = RegisterReportProvider(&Executor::ReportSection, this);
}

Executor::~Executor() {
  if (report_registered_) UnregisterReportProvider(&Executor::ReportSection, this);
}

void Executor::ReportSection(FILE* out, void* self) {
  const State& s = *static_cast<Executor*>(self)->state_;
  if (s.program == nullptr) return;
  std::fprintf(out, "--- reservoir program (%zu operations) ---\n",
               s.program->ops.size());
  std::fputs(program::ToText(*s.program).c_str(), out);
  if (s.running && s.op_index < s.program->ops.size()) {
    std::fprintf(out, "--- while executing operation #%zu: %s ---\n",
                 s.op_index, program::OpToText(s.program->ops[s.op_index]).c_str());
  } else {
    std::fprintf(out, "--- after the last operation, during %s ---\n",
                 s.running ? "teardown" : "a later call");
  }
}

ExecStats Executor::Run(const Program& program, const ExecOptions& options) {
  ReservoirModel& model = pool_.Acquire(program::ToModelConfig(program.header));
  return RunOn(model, program, options);
}

// Out of line, so that a profile can tell the teardown from the program
// (bench/profile_input.py).
__attribute__((noinline)) void Executor::Teardown(bool final_state_audited) {
  State& s = *state_;
  ModelApi& api = *s.api;
  s.op_index = s.program->ops.size();
  // The full audit of the final state; then the frees, checked cheaply
  // (a full walk after each of them would cost more than the program), and
  // the pristine check, which audits everything once more.
  if (!final_state_audited) api.AuditFull();
  api.SetAuditLevel(AuditLevel::kCheap);
  // A fixed order, so that the same program always tears down the same way.
  // The ledger is checked after each kind of free, named like the
  // operation that frees it, so a wrong uncharge has one report place
  // whether the program freed the grant or the teardown did.
  const auto uncharge_all = [&s](std::vector<GrantEntry>* grants) {
    for (const GrantEntry& e : *grants) {
      if (e.grant.emergency) s.ledger.Uncharged(e.grant.node, e.grant.charged);
    }
    grants->clear();
  };
  for (const GrantEntry& e : s.kmalloc_grants) api.KfreeReserve(e.grant, e.cpu);
  uncharge_all(&s.kmalloc_grants);
  s.CheckLedgerAfter("kfree_reserve");
  for (const GrantEntry& e : s.cache_grants) {
    api.CacheFreeReserve(e.cache, e.grant, e.cpu);
  }
  uncharge_all(&s.cache_grants);
  s.CheckLedgerAfter("cache_free_reserve");
  for (const GrantEntry& e : s.page_grants) api.FreePagesReserve(e.grant);
  uncharge_all(&s.page_grants);
  s.CheckLedgerAfter("free_pages_reserve");
  for (const CacheObjectEntry& e : s.cache_objects) {
    api.CacheFree(e.cache, e.object, e.cpu);
  }
  s.cache_objects.clear();
  for (const ObjectEntry& e : s.kmalloc_objects) api.Kfree(e.object, e.cpu);
  s.kmalloc_objects.clear();
  for (const PageEntry& e : s.pages) api.FreePages(e.page, e.order);
  s.pages.clear();
  for (const PageEntry& e : s.pressure) api.FreePages(e.page, e.order);
  s.pressure.clear();
  for (const ChargeEntry& e : s.charges) {
    api.ReserveUncharge(e.node, e.bytes);
    s.ledger.Uncharged(e.node, e.bytes);
  }
  s.charges.clear();
  s.CheckLedgerAfter("reserve_uncharge");
  // Release every reserve, newest first, then the caches.
  for (auto it = s.reserves.rbegin(); it != s.reserves.rend(); ++it) {
    api.ReservePagesSet(*it, 0);
  }
  for (CacheHandle cache : s.caches) api.CacheDestroy(cache);
  s.caches.clear();
  api.CheckPristine();  // runs the full audit first
}

// After each traced operation: the zones' levels and every live reserve
// node, by its index in the reserves list (what a reserve# argument names).
// The line format is documented in docs/TRIAGE.md, "The trace".
void Executor::TraceLevels() {
  State& s = *state_;
  FILE* out = s.options.trace;
  s.api->TraceLevels(out, "   ");
  for (size_t r = 0; r < s.reserves.size(); ++r) {
    const ReserveView view = s.api->Reserve(s.reserves[r]);
    if (!view.live) continue;
    long long parent = -1;
    for (size_t p = 0; p < s.reserves.size(); ++p) {
      if (s.reserves[p] == view.parent) parent = static_cast<long long>(p);
    }
    std::fprintf(out,
                 "   @reserve index=%zu parent=%lld pages=%llu limit=%llu "
                 "usage=%llu\n",
                 r, parent, static_cast<unsigned long long>(view.pages),
                 static_cast<unsigned long long>(view.limit),
                 static_cast<unsigned long long>(view.usage));
  }
  std::fflush(out);  // a finding aborts: keep every step before it
}

ExecStats Executor::RunOn(ModelApi& api, const Program& program,
                          const ExecOptions& options) {
  State& s = *state_;
  s.Clear();
  s.api = &api;
  s.program = &program;
  s.options = options;
  s.running = true;
  s.reserves.push_back(api.ReserveRoot());
  s.checks = options.request_checks;
  s.oracle.Start(&api);
  s.coverage.Clear(api.ReserveRoot());

  api.SetFaultHook(faults_.Prepare(program.header));
  // audit=full asks for frequent full audits: the model checks cheaply
  // after each call and walks everything after every kFullAuditInterval-th
  // operation (a full walk after each one costs more than the program).
  // The schedule is the model's; the executor only says where each
  // operation ends.
  if (program.header.audit == AuditLevel::kFull) {
    api.SetAuditSchedule(AuditLevel::kFull, kFullAuditInterval);
  }
  Runner runner(s, faults_);
  bool last_audited = false;  // the full audit ran after the last operation
  for (size_t i = 0; i < program.ops.size(); ++i) {
    s.op_index = i;
    const ExecStats before = s.stats;
    std::visit(runner, program.ops[i]);
    s.CheckCoverageAgrees();
    last_audited = api.EndOperation();
    if (options.trace != nullptr) {
      const char* outcome = s.stats.noops != before.noops ? "no-op"
                            : s.stats.alloc_failures != before.alloc_failures
                                ? "failed"
                            : s.stats.emergencies != before.emergencies
                                ? "ok (emergency)"
                                : "ok";
      std::fprintf(options.trace, "#%zu %s -> %s (injected so far: %llu)\n",
                   i, program::OpToText(program.ops[i]).c_str(), outcome,
                   static_cast<unsigned long long>(faults_.injected()));
      TraceLevels();
    }
  }
  if (options.teardown) {
    faults_.Suspend();
    Teardown(last_audited);
    faults_.Resume();
  }
  api.SetFaultHook(nullptr);
  s.stats.injected = faults_.injected();
  s.running = false;
  s.ReleaseGrowth();
  return s.stats;
}

}  // namespace reservoir::exec
