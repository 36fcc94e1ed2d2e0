#include "reservoir/injectors/decision_source.h"

namespace reservoir::injectors {

bool InputDecisions::NextDecision(const FaultCall& /*call*/) {
  const uint64_t index = consumed_++;
  if (index >= capacity()) return false;
  if (encoding_ == Encoding::kBytePerDecision) {
    return (bytes_[static_cast<size_t>(index)] & 1u) != 0;
  }
  const uint8_t byte = bytes_[static_cast<size_t>(index / 8)];
  return ((byte >> (index % 8)) & 1u) != 0;
}

}  // namespace reservoir::injectors
