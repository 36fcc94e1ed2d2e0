// Request context: gfp flags, task flags, interrupt state and the simulated
// CPU of one allocation, and the entitlement rule that decides who may use
// the strict reserve (mirrors __gfp_pfmemalloc_flags() in mm/page_alloc.c).
#pragma once

#include <cstdint>

namespace reservoir {

inline constexpr int kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
inline constexpr int kMaxOrderLimit = 10;  // orders 0..10, like MAX_ORDER-1
inline constexpr int kMaxCpus = 8;

// gfp flags. Only the bits the model gives meaning to; the names follow
// include/linux/gfp.h without the leading underscores.
enum GfpFlag : uint32_t {
  kGfpMemalloc = 1u << 0,       // __GFP_MEMALLOC: may use the strict reserve
  kGfpNoMemalloc = 1u << 1,     // __GFP_NOMEMALLOC: never, even if entitled
  kGfpHigh = 1u << 2,           // __GFP_HIGH: relax min by half
  kGfpDirectReclaim = 1u << 3,  // __GFP_DIRECT_RECLAIM: may block
  kGfpNoFail = 1u << 4,         // __GFP_NOFAIL
  kGfpNoWarn = 1u << 5,         // __GFP_NOWARN
  kGfpZero = 1u << 6,           // __GFP_ZERO: hand out zeroed memory
  kGfpHighmem = 1u << 7,        // __GFP_HIGHMEM: the high zone is usable
  kGfpAllKnown = (1u << 8) - 1,
};
using Gfp = uint32_t;

// GFP_KERNEL blocks; GFP_ATOMIC is high priority and never blocks.
inline constexpr Gfp kGfpKernel = kGfpDirectReclaim;
inline constexpr Gfp kGfpAtomic = kGfpHigh;

// Everything an allocation request carries besides its size.
struct AllocContext {
  Gfp gfp = kGfpKernel;
  bool pf_memalloc = false;  // current->flags & PF_MEMALLOC
  bool oom_victim = false;   // tsk_is_oom_victim(current)
  bool in_softirq = false;   // in_serving_softirq()
  uint16_t cpu = 0;          // simulated CPU; callers keep it < nr_cpus
};

// How far an allocation may dig, as in the kernel's alloc_flags.
enum class ReserveAccess : uint8_t {
  kNone,           // ordinary watermarks only
  kOom,            // ALLOC_OOM: an OOM victim may go further below min
  kNoWatermarks,   // ALLOC_NO_WATERMARKS: the strict reserve is reachable
};

// __gfp_pfmemalloc_flags(): NOMEMALLOC wins; MEMALLOC entitles; PF_MEMALLOC
// entitles in task context and while serving a softirq; an OOM victim outside
// interrupts gets the partial ALLOC_OOM access.
constexpr ReserveAccess GfpReserveAccess(const AllocContext& ctx) {
  if (ctx.gfp & kGfpNoMemalloc) return ReserveAccess::kNone;
  if (ctx.gfp & kGfpMemalloc) return ReserveAccess::kNoWatermarks;
  if (ctx.pf_memalloc) return ReserveAccess::kNoWatermarks;
  if (!ctx.in_softirq && ctx.oom_victim) return ReserveAccess::kOom;
  return ReserveAccess::kNone;
}

// gfp_pfmemalloc_allowed(): is the caller entitled to the strict reserve?
constexpr bool IsEntitled(const AllocContext& ctx) {
  return GfpReserveAccess(ctx) == ReserveAccess::kNoWatermarks;
}

}  // namespace reservoir
