// Completeness of the slab path (see slab_completeness.h).
#include "reservoir/exec/slab_completeness.h"

namespace reservoir::exec {
namespace {

struct Search {
  const ProvenanceRecord* record = nullptr;
  SkippedSlabQuery query;
  bool found = false;
  SlabCandidate hit;
};

void Visit(const SlabCandidate& candidate, void* arg) {
  Search& search = *static_cast<Search*>(arg);
  if (search.found || candidate.slab == search.query.except ||
      candidate.free_objects == 0) {
    return;
  }
  const ProvenanceRecord::Origin origin = search.record->Of(candidate.slab);
  const bool reserve = origin == ProvenanceRecord::Origin::kUnknown
                           ? candidate.tagged
                           : origin == ProvenanceRecord::Origin::kReserve;
  const bool usable = search.query.normal_only
                          ? !reserve
                          : (!reserve || search.query.reserve_ok);
  if (usable) {
    search.found = true;
    search.hit = candidate;
  }
}

}  // namespace

bool FindSkippedSlab(const ModelApi& api, const ProvenanceRecord& record,
                     const SlabTarget& target, const SkippedSlabQuery& query,
                     SlabCandidate* out) {
  Search search;
  search.record = &record;
  search.query = query;
  if (!api.VisitSlabCandidates(target.cache, target.kmalloc_size, target.cpu,
                               &Visit, &search)) {
    return false;
  }
  if (search.found) *out = search.hit;
  return search.found;
}

const char* SlabListName(SlabList list) {
  switch (list) {
    case SlabList::kCpuActive: return "cpu-active";
    case SlabList::kCpuPartial: return "cpu-partial";
    case SlabList::kNodePartial: return "node-partial";
  }
  return "unknown";
}

}  // namespace reservoir::exec
