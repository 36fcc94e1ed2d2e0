// Completeness of the slab path, judged from the lists one CPU can see:
// when a slab allocation made a new slab or failed, no free object that
// the attempt could have taken may remain on that CPU's active slab, its
// per-CPU partial slabs or the node partial list. Whether a slab is a
// reserve slab comes from the executor's own provenance record (the
// implementation's tag only for a slab the record does not know).
#pragma once

#include "reservoir/exec/allocation_oracle.h"
#include "reservoir/exec/model_api.h"
#include "reservoir/exec/provenance.h"

namespace reservoir::exec {

// Which slabs count: those an attempt with `reserve_ok` may take from, or
// (normal_only) only slabs that are not reserve slabs.
struct SkippedSlabQuery {
  PageHandle except = kNoPage;  // the slab the call made
  bool reserve_ok = false;
  bool normal_only = false;
};

// True (and *out filled) when a usable free object remained on a list
// the call should have taken it from. False also when the implementation
// does not show its lists. Walks one CPU's partial list and the node's.
bool FindSkippedSlab(const ModelApi& api, const ProvenanceRecord& record,
                     const SlabTarget& target, const SkippedSlabQuery& query,
                     SlabCandidate* out);

// The list's name in report places.
const char* SlabListName(SlabList list);

}  // namespace reservoir::exec
