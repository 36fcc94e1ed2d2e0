// The provenance record's bookkeeping.
#include "reservoir/exec/provenance.h"

namespace reservoir::exec {

void ProvenanceRecord::Clear() {
  for (PageHandle head : touched_) {
    if (head < origin_.size()) origin_[head] = Origin::kUnknown;
  }
  touched_.clear();
}

void ProvenanceRecord::Record(PageHandle head, Origin origin) {
  if (head == kNoPage) return;
  if (head >= origin_.size()) origin_.resize(head + 1, Origin::kUnknown);
  if (origin_[head] == Origin::kUnknown) touched_.push_back(head);
  origin_[head] = origin;
}

void ProvenanceRecord::Forget(PageHandle head) {
  // Kept on the touched list: Clear() resets it anyway, and a head that is
  // recorded again is not listed twice while it stays non-unknown.
  if (head < origin_.size() && origin_[head] != Origin::kUnknown) {
    origin_[head] = Origin::kUnknown;
  }
}

}  // namespace reservoir::exec
