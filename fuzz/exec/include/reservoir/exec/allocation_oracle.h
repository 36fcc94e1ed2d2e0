// The executor's request-level oracle for every allocation call: it reads
// the zone levels before the call, judges independently what the request
// was allowed (watermark_judge.h) and which attempt the allocator may have
// made, keeps its own provenance record of every block handed out
// (provenance.h), and checks after the call:
//   - the zone a new block came from (the request's zonelist, in the
//     kernel's order, with lowmem_reserve honoured);
//   - the reserve tag against its own judgement of NO_WATERMARKS;
//   - that a request without reserve access (unentitled, or carrying
//     __GFP_NOMEMALLOC) never receives reserve memory, by the executor's
//     own record, whatever the allocator computed internally;
//   - under the no-mixing policy, that reserve memory went only to a
//     request whose normal pass could not have succeeded;
//   - completeness: a failed allocation that the recomputation says should
//     have succeeded, and a new slab or a failed slab allocation while a
//     usable free object remained for that caller (slab_completeness.h).
// Each check costs O(1) per call, plus a walk of one CPU's and the node's
// partial slabs on the slow events (a new slab, a failure).
#pragma once

#include <cstddef>
#include <cstdint>

#include "reservoir/exec/model_api.h"
#include "reservoir/exec/provenance.h"

namespace reservoir::exec {

// One attempt the allocator makes for a request: the context it passes to
// the page allocator and whether that attempt may use reserve slabs.
struct Attempt {
  AllocContext ctx;
  bool reserve_ok = false;
};
struct AttemptList {
  Attempt at[3];
  int count = 0;
  void Add(const AllocContext& ctx, bool reserve_ok) {
    if (count < 3) at[count++] = {ctx, reserve_ok};
  }
  bool AnyReserveOk() const {
    for (int i = 0; i < count; ++i) {
      if (at[i].reserve_ok) return true;
    }
    return false;
  }
};

// The slab cache a slab call used: a user cache, or the kmalloc class of
// `kmalloc_size` (cache == kNoCache).
struct SlabTarget {
  CacheHandle cache = kNoCache;
  size_t kmalloc_size = 0;
  uint32_t slot_size = 0;  // for the fallback order a new slab needs
  uint16_t cpu = 0;
};

class AllocationOracle {
 public:
  // A new program on `api`.
  void Start(ModelApi* api);
  // Reads the levels before an allocation call.
  void Before();

  // A page-allocator call (alloc_pages, pressure, alloc_pages_reserve, a
  // large kmalloc) for `order` returned `page` (kNoPage: failed).
  ProvenanceRecord::Origin AfterPages(const char* what,
                                      const AttemptList& attempts, int order,
                                      PageHandle page);
  // A slab call returned `object` (null: failed). `path` names the slab
  // path for report places (null: unknown).
  ProvenanceRecord::Origin AfterSlab(const char* what,
                                     const AttemptList& attempts,
                                     const SlabTarget& target,
                                     const void* object, const char* path);
  // A plain page block went back.
  void Freed(PageHandle page) { record_.Forget(page); }
  // Tagged pages live before the last call (all zones).
  uint64_t reserve_pages_in_use() const;
  bool injected_during_call() const;
  const ProvenanceRecord& record() const { return record_; }

 private:
  // Judges a block the call made; returns its origin and sets *attempt to
  // the attempt that made it (-1 when not judged).
  ProvenanceRecord::Origin JudgeNewBlock(const char* what,
                                         const AttemptList& attempts,
                                         const BlockView& block,
                                         uint32_t slot_size, int* attempt);

  ModelApi* api_ = nullptr;
  bool shown_ = false;
  bool nomixing_ = false;
  // Reads the page counters after a call (after_allocs_, after_frees_).
  void ReadAfter();

  LevelsView before_;
  uint64_t after_allocs_ = 0;
  uint64_t after_frees_ = 0;
  uint64_t injected_before_ = 0;
  ProvenanceRecord record_;

};

}  // namespace reservoir::exec
