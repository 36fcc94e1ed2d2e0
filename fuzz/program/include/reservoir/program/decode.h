// Bytes -> Program. The decoder is total: every byte string, including the
// empty one, is a valid program. It reads a fixed-size header, then up to
// kMaxOps fixed-size records; missing bytes read as zero and bytes past the
// last record are ignored. It allocates nothing but the operation vector.
// A decoded program is always encodable (Validate finds no errors in it).
#pragma once

#include <cstdint>
#include <span>

#include "reservoir/program/program.h"

namespace reservoir::program {

Program Decode(std::span<const uint8_t> bytes);

// The pieces, for mutators and tests. Both read missing bytes as zero and
// ignore bytes past their size.
Header DecodeHeader(std::span<const uint8_t> header_bytes);
Op DecodeOp(std::span<const uint8_t> record);

}  // namespace reservoir::program
