// Program -> canonical bytes. For every encodable program p (Validate finds
// no errors), Decode(Encode(p)) == p; and Encode(Decode(c)) == c whenever c
// is itself the output of Encode. Encode is total: a program with errors
// still encodes (never UB), but to some other program.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "reservoir/program/layout.h"
#include "reservoir/program/program.h"

namespace reservoir::program {

// The header followed by one record per operation, at most kMaxOps of them.
std::vector<uint8_t> Encode(const Program& program);

std::array<uint8_t, layout::kHeaderSize> EncodeHeader(const Header& header);
std::array<uint8_t, layout::kOpRecordSize> EncodeOp(const Op& op);

}  // namespace reservoir::program
