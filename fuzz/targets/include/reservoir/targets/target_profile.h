// A fuzz target is a profile over the one program language: which
// operation kinds its inputs can express (the opcode byte of each record
// picks among them, so mutations stay inside the target's subject), which
// header fields it forces, and the scenario prologue it runs first. All
// targets share the executor and its oracle.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reservoir/program/program.h"

namespace reservoir::targets {

struct TargetProfile {
  const char* name;
  const char* summary;
  // Kinds the opcode byte selects from (byte % size). Empty: all kinds.
  std::span<const program::OpKind> kinds;
  // Forces header fields and prepends the scenario's operations. `input`
  // is the whole input (a target may read the header's reserved bytes).
  void (*shape)(std::span<const uint8_t> input, program::Program* program);
};

// Every target, in a fixed order.
std::span<const TargetProfile> AllTargets();
// Null when no target has that name.
const TargetProfile* FindTarget(std::string_view name);

// Input bytes -> the program the target runs (prologue included). Total.
// With RESERVOIR_FAULT_MODE set (ForcedFaultMode), its header's fault mode
// is replaced by that one.
program::Program DecodeForTarget(const TargetProfile& target,
                                 std::span<const uint8_t> input);
// The same into `*out`, whose operation storage is reused: a fuzzer that
// decodes into one program per process allocates nothing per input.
void DecodeForTargetInto(const TargetProfile& target,
                         std::span<const uint8_t> input, program::Program* out);

// RESERVOIR_FAULT_MODE=none|random|fail_nth|input (the bug benchmark's
// fault-injection configurations), read once: every binary input any
// target decodes (the fuzzers, reservoir-replay) runs with this fault
// mode instead of the one its header chose; random and fail_nth arm every
// site when the header armed none, and random fails 1 % of the eligible
// calls when the header's probability is 0, so the mode can always fire.
// Text programs are not decoded here and keep their own header. Returns
// null when unset; an unknown value is a one-line error and exit 2.
const program::FaultMode* ForcedFaultMode();

// A program body -> input bytes that DecodeForTarget turns back into the
// same body (after the target's prologue). Fails (returns false, with a
// one-line reason) when the body uses a kind the target cannot express.
bool EncodeForTarget(const TargetProfile& target, const program::Program& body,
                     std::vector<uint8_t>* out, std::string* error);

}  // namespace reservoir::targets
