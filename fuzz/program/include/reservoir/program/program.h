// A program: the header (configuration and fault policy of the run) and the
// operations to execute in order. This is the language fuzz inputs decode
// into and seeds, traces, triage and regression tests are written in.
#pragma once

#include <cstddef>
#include <vector>

#include "reservoir/program/header.h"
#include "reservoir/program/op.h"

namespace reservoir::program {

// Decode never yields more; Encode writes at most this many.
inline constexpr size_t kMaxOps = 256;

struct Program {
  Header header;
  std::vector<Op> ops;  // at most kMaxOps for the program to be encodable

  bool operator==(const Program&) const = default;
};

}  // namespace reservoir::program
