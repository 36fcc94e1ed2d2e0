// Small helpers shared by the allocator's unit tests: request contexts,
// memory exhaustion by unentitled callers, and finding the slab of an object.
#pragma once

#include <cstdint>
#include <vector>

#include "reservoir/model.h"

namespace reservoir {
namespace test {

// GFP_KERNEL on `cpu`: may block, not entitled.
inline AllocContext KernelCtx(uint16_t cpu = 0) {
  AllocContext ctx;
  ctx.gfp = kGfpKernel;
  ctx.cpu = cpu;
  return ctx;
}

inline AllocContext GfpCtx(Gfp gfp, uint16_t cpu = 0) {
  AllocContext ctx;
  ctx.gfp = gfp;
  ctx.cpu = cpu;
  return ctx;
}

// GFP_KERNEL | __GFP_MEMALLOC on `cpu`: entitled to the strict reserve.
inline AllocContext MemallocCtx(uint16_t cpu = 0) {
  return GfpCtx(kGfpKernel | kGfpMemalloc, cpu);
}

struct PageBlock {
  Pfn pfn;
  int order;
};

// Allocates blocks with `ctx`, from the largest order down, until not even
// one page can be had: what memory pressure from `ctx`'s kind of caller
// leaves behind.
inline std::vector<PageBlock> Exhaust(Model& model, const AllocContext& ctx) {
  std::vector<PageBlock> blocks;
  for (int order = model.pages().max_order(); order >= 0; --order) {
    for (;;) {
      const Pfn pfn = model.AllocPages(order, ctx);
      if (pfn == kNoPfn) break;
      blocks.push_back({pfn, order});
    }
  }
  return blocks;
}

inline void FreeBlocks(Model& model, const std::vector<PageBlock>& blocks) {
  for (const PageBlock& block : blocks) model.FreePages(block.pfn, block.order);
}

// The head pfn of the slab holding `object` (kNoPfn if it is in none).
inline Pfn SlabHeadOf(const Model& model, const void* object) {
  const Pfn head = model.pages().AllocatedHeadOf(object);
  if (head == kNoPfn || !(model.pages().frame(head).flags & kPageSlab))
    return kNoPfn;
  return head;
}

}  // namespace test
}  // namespace reservoir
