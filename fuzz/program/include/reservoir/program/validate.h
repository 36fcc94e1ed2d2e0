// Validation: a separate pass over a program that returns its problems
// instead of stopping at the first. Meant for programs written by hand or
// built in code; decoded programs and parsed text never have errors.
//
// Errors: the program cannot be encoded faithfully (a value outside its
// table or range, too many operations): Decode(Encode(p)) != p.
// Warnings: the program is legal and runs, but some part of it certainly
// does nothing or does something other than it reads (an index into a set
// that is empty at that point, an index that wraps, a cpu or order the
// executor reduces, a state change that changes nothing, fail_next outside
// input mode). Warnings follow from the language alone, never from what
// the allocator will decide.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "reservoir/program/program.h"

namespace reservoir::program {

enum class Severity : uint8_t { kError, kWarning };

struct Problem {
  Severity severity = Severity::kError;
  int op_index = -1;    // the operation, or -1 for the header
  std::string message;  // one line, e.g. "kfree: no live kmalloc objects ..."
  std::string ToString() const;  // "warning: op 3: kfree: ..."
};

std::vector<Problem> Validate(const Program& program);

bool HasErrors(std::span<const Problem> problems);

}  // namespace reservoir::program
