// struct page: the metadata of one page frame of the arena.
#pragma once

#include <cstdint>

namespace reservoir {

using Pfn = uint32_t;  // page frame number, an index into the arena
inline constexpr Pfn kNoPfn = UINT32_MAX;

enum PageFlag : uint8_t {
  kPageBuddy = 1u << 0,       // head of a free block on a free list (PageBuddy)
  kPageHead = 1u << 1,        // head of an allocated block
  kPagePfmemalloc = 1u << 2,  // the tag: handed out from the strict reserve
  kPageSlab = 1u << 3,        // head of a slab (PageSlab)
  // Provenance, kept apart from the tag so the audit can tell a stale or
  // wrongly set tag from the truth: set exactly when the allocation that
  // handed this block out succeeded only through ALLOC_NO_WATERMARKS.
  kPageViaNoWatermarks = 1u << 4,
  // Allocated by an entitled caller (the audit's provenance rule needs it).
  kPageEntitledOwner = 1u << 5,
};

struct PageFrame {
  Pfn next = kNoPfn;   // free-list or slab-list link (valid on heads)
  Pfn prev = kNoPfn;
  uint8_t order = 0;   // order of the block this page heads
  uint8_t flags = 0;   // PageFlag bits (valid on heads)
  uint8_t reserved = 0;  // the tag when last freed (the audit names it)
  uint8_t unused = 0;
  uint32_t owner = 0;  // slab: cache id + 1; large kmalloc: kLargeKmallocOwner
};

inline constexpr uint32_t kLargeKmallocOwner = UINT32_MAX;

}  // namespace reservoir
