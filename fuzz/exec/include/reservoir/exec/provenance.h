// The executor's own provenance record: for every block it has seen handed
// out (plain pages, a slab, a large kmalloc block), whether it came from
// the reserve as the executor judged it (from the zone levels before the
// call and the request's context), independent of the allocator's tag.
#pragma once

#include <cstdint>
#include <vector>

#include "reservoir/exec/model_api.h"

namespace reservoir::exec {

class ProvenanceRecord {
 public:
  enum class Origin : uint8_t {
    kUnknown,  // never seen (or freed since)
    kNormal,   // the executor judged normal watermarks served it
    kReserve,  // the executor judged only NO_WATERMARKS could serve it
  };

  // Forgets everything, in time proportional to what was recorded.
  void Clear();
  void Record(PageHandle head, Origin origin);
  void Forget(PageHandle head);
  Origin Of(PageHandle head) const {
    return head < origin_.size() ? origin_[head] : Origin::kUnknown;
  }

 private:
  std::vector<Origin> origin_;       // by head page, grown on demand
  std::vector<PageHandle> touched_;  // heads recorded since Clear()
};

}  // namespace reservoir::exec
