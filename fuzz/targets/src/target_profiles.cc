// The five fuzz targets: which operations each can express, what each
// forces in the header, and each one's scenario prologue.
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <variant>
#include <vector>

#include "reservoir/targets/target_profile.h"

namespace reservoir::targets {
namespace {

using program::OpKind;
using program::Program;
namespace op = program::op;

// Task state and injection are part of every subject.
#define COMMON_KINDS                                                      \
  OpKind::kSetPfMemalloc, OpKind::kClearPfMemalloc, OpKind::kEnterSoftirq, \
      OpKind::kLeaveSoftirq, OpKind::kPressure, OpKind::kReleasePressure,  \
      OpKind::kFailNext, OpKind::kAudit

constexpr OpKind kPageAllocKinds[] = {
    OpKind::kAllocPages,        OpKind::kFreePages,
    OpKind::kAllocPagesReserve, OpKind::kFreePagesReserve,
    OpKind::kReserveSetPages,   OpKind::kSetOomVictim,
    OpKind::kClearOomVictim,    COMMON_KINDS};

constexpr OpKind kSlabKinds[] = {
    OpKind::kKmalloc,           OpKind::kKfree,
    OpKind::kCacheCreate,       OpKind::kCacheAlloc,
    OpKind::kCacheFree,         OpKind::kCacheDestroy,
    OpKind::kKmallocReserve,    OpKind::kKfreeReserve,
    OpKind::kCacheAllocReserve, OpKind::kCacheFreeReserve,
    OpKind::kReserveSetKmalloc, OpKind::kReserveSetCache,
    COMMON_KINDS};

constexpr OpKind kReserveKinds[] = {
    OpKind::kReserveCreate,     OpKind::kReserveSetPages,
    OpKind::kReserveSetKmalloc, OpKind::kReserveSetCache,
    OpKind::kReserveConnect,    OpKind::kReserveDisconnect,
    OpKind::kReserveCharge,     OpKind::kReserveUncharge,
    OpKind::kKmallocReserve,    OpKind::kKfreeReserve,
    OpKind::kAllocPagesReserve, OpKind::kFreePagesReserve,
    OpKind::kCacheAllocReserve, OpKind::kCacheFreeReserve,
    OpKind::kCacheCreate,       COMMON_KINDS};

// The kmalloc pair twice, so half of all records stay kmalloc_reserve /
// kfree_reserve as before the cache kinds were added (an input's opcode
// byte is taken modulo the list's size; encoding uses the first match, so
// every seed's records keep their bytes).
constexpr OpKind kEstimatorKinds[] = {
    OpKind::kKmallocReserve,    OpKind::kKfreeReserve,
    OpKind::kKmallocReserve,    OpKind::kKfreeReserve,
    OpKind::kCacheCreate,       OpKind::kReserveSetCache,
    OpKind::kCacheAllocReserve, OpKind::kCacheFreeReserve};

#undef COMMON_KINDS

// Puts the scenario's operations before the input's own. Every target but
// the estimator's runs the exact estimator: the historical ones are known
// to promise too few pages, so under them a guarantee-violation is their
// known flaw, not a finding (estimator_fuzzer exists to show it).
void Prepend(Program* program, std::initializer_list<program::Op> prologue) {
  program->header.estimator = EstimatorKind::kExact;
  program->ops.insert(program->ops.begin(), prologue.begin(), prologue.end());
}

// A reserve node under the root for the wrappers to charge (index 1).
void ShapePageAlloc(std::span<const uint8_t>, Program* program) {
  Prepend(program, {op::ReserveCreate{}});
}

// A reserve node (index 1) and one cache of an odd size, so the slab
// rules meet a non-kmalloc geometry from the first operation.
void ShapeSlab(std::span<const uint8_t>, Program* program) {
  op::CacheCreate cache;
  cache.size = 192;
  cache.align = 8;
  Prepend(program, {op::ReserveCreate{}, cache});
}

void ShapeReserve(std::span<const uint8_t>, Program* program) {
  Prepend(program, {op::ReserveCreate{}});
}

// Swap over the network: a memalloc socket receives packets in softirq
// through the reserve wrappers. Its kmalloc reserve (index 1) and its
// skbuff-head cache reserve (index 2) are set up first, sized from the
// header's seed; the program then does whatever it likes around it
// (unentitled pressure, injected failures, more users).
void ShapeSwapOverNet(std::span<const uint8_t>, Program* program) {
  const uint32_t seed = program->header.seed;
  op::CacheCreate skbuff_head;
  skbuff_head.size = 232;
  skbuff_head.align = 64;
  op::ReserveSetKmalloc socket;  // reserve #1: the socket's buffers
  socket.res = 1;
  socket.bytes = 4096 + (seed & 0x7fff);
  op::ReserveSetCache heads;  // reserve #2: its skbuff heads
  heads.res = 2;
  heads.cache = 0;
  heads.objects = static_cast<uint16_t>(8 + ((seed >> 16) & 0x3f));
  Prepend(program, {skbuff_head, op::ReserveCreate{}, op::ReserveCreate{},
                    socket, heads, op::EnterSoftirq{}, op::SetPfMemalloc{}});
}

EstimatorKind EstimatorFromEnvironment() {
  const char* value = std::getenv("RESERVOIR_ESTIMATOR");
  if (value == nullptr || std::strcmp(value, "exact") == 0)
    return EstimatorKind::kExact;
  if (std::strcmp(value, "2n+m") == 0) return EstimatorKind::kTwiceNPlusM;
  if (std::strcmp(value, "pow2") == 0) return EstimatorKind::kPow2NPlusM;
  return EstimatorKind::kExact;  // the fuzz target's Initialize rejects it
}

// Caches the estimator target gives a reserve of their own, at most.
constexpr uint32_t kEstimatorMaxCaches = 4;

// The estimator's cache attack (kmem_cache_set): the body's cache_create
// and reserve_set_cache records are set-up, moved (unchanged, in body
// order) before the pressure. The first four caches get a reserve of their
// own, cache k reserve #(2 + k), created right after it; every
// reserve_set_cache and cache_alloc_reserve naming cache i is bound to
// cache i % 4's reserve, so every emergency charge is budgeted and the
// guarantee applies wherever it does (objects of at most a page: order-0
// slabs). Later caches get no reserve and no allocation names them; a
// reserve_set_cache before any cache finds none and does nothing. Returns
// the set-up ops; `program->ops` keeps the rest, in order.
std::vector<program::Op> ShapeEstimatorCaches(Program* program) {
  std::vector<program::Op> setup, rest;
  uint32_t caches = 0;
  for (const program::Op& body_op : program->ops) {
    if (std::holds_alternative<op::CacheCreate>(body_op)) {
      setup.push_back(body_op);
      if (caches < kEstimatorMaxCaches) {
        setup.push_back(op::ReserveCreate{});
        ++caches;
      }
    } else if (const auto* set = std::get_if<op::ReserveSetCache>(&body_op)) {
      op::ReserveSetCache bound = *set;
      if (caches > 0) {
        bound.cache = static_cast<uint8_t>(set->cache % caches);
        bound.res = static_cast<uint8_t>(2 + bound.cache);
      }
      setup.push_back(bound);
    } else {
      rest.push_back(body_op);
    }
  }
  for (program::Op& body_op : rest) {
    if (auto* alloc = std::get_if<op::CacheAllocReserve>(&body_op); alloc && caches > 0) {
      alloc->cache = static_cast<uint8_t>(alloc->cache % caches);
      alloc->res = static_cast<uint8_t>(2 + alloc->cache);
    }
  }
  // Copied into the program's own storage rather than moved in: the fuzz
  // entry keeps that storage's capacity the same from input to input.
  program->ops.assign(rest.begin(), rest.end());
  return setup;
}

// The estimator's adversary: one kmalloc reserve of N bytes (N from the
// header's seed field, which this target does not use for faults), up to
// four cache reserves of the body's choosing, all normal memory eaten by
// unentitled users, then only entitled kmalloc_reserve / kfree_reserve and
// cache_alloc_reserve / cache_free_reserve on any CPU (frees may be remote).
// If the estimator promised too few pages, some emergency allocation within
// a reserve fails: guarantee-violation.
void ShapeEstimator(std::span<const uint8_t>, Program* program) {
  program::Header& header = program->header;
  const uint32_t bytes = 1 + header.seed % 16384;
  header.fault_mode = program::FaultMode::kNone;
  header.min_free_kbytes = 0;  // no min watermark: the reserve is all there is
  header.highmem_pages = 0;
  header.max_order = program::MaxOrderFor(header.normal_pages, 0);
  // Every allocation charges the user's reserve (#1), never the root.
  for (program::Op& body_op : program->ops) {
    if (auto* alloc = std::get_if<op::KmallocReserve>(&body_op)) alloc->res = 1;
  }
  op::ReserveSetKmalloc set;
  set.res = 1;
  set.bytes = bytes;
  op::Pressure pressure;
  pressure.pages = 65535;
  const std::vector<program::Op> setup = ShapeEstimatorCaches(program);
  Prepend(program, {op::ReserveCreate{}, set});
  program->ops.insert(program->ops.begin() + 2, setup.begin(), setup.end());
  const program::Op after_setup[] = {pressure, op::SetPfMemalloc{}};
  program->ops.insert(program->ops.begin() + 2 + static_cast<std::ptrdiff_t>(setup.size()),
                      std::begin(after_setup), std::end(after_setup));
  header.estimator = EstimatorFromEnvironment();
}

constexpr TargetProfile kTargets[] = {
    {"page_alloc_fuzzer",
     "the buddy allocator, watermarks, the strict reserve and page reserves",
     kPageAllocKinds, ShapePageAlloc},
    {"slab_fuzzer",
     "kmalloc and caches, reserve slabs under both policies, the wrappers",
     kSlabKinds, ShapeSlab},
    {"reserve_fuzzer",
     "the reserve tree: set, charge, connect, disconnect, the wrappers",
     kReserveKinds, ShapeReserve},
    {"swap_over_net_fuzzer",
     "the whole stack: a memalloc socket receiving through the reserves",
     {}, ShapeSwapOverNet},
    {"estimator_fuzzer",
     "allocation patterns (kmalloc and caches) that need more pages than the "
     "estimator promised",
     kEstimatorKinds, ShapeEstimator},
};

}  // namespace

std::span<const TargetProfile> AllTargets() { return kTargets; }

}  // namespace reservoir::targets
