#include "reservoir/program/op.h"

#include "reservoir/program/layout.h"

namespace reservoir::program {
namespace {

// Compile-time checks of the table: slots are in range and unique, nop owns
// slot 0 (so zero padding decodes to nothing), and every kind's arguments
// fit in one record.
constexpr bool SlotsAreValid() {
  bool used[layout::kOpcodeSlots] = {};
  for (const OpInfo& info : kOpInfos) {
    if (info.slot >= layout::kOpcodeSlots || used[info.slot]) return false;
    used[info.slot] = true;
  }
  return kOpInfos[0].kind == OpKind::kNop && kOpInfos[0].slot == 0;
}
static_assert(SlotsAreValid(), "op_table.h: opcode slots clash");

constexpr bool KindsAreInOrder() {
  for (size_t i = 0; i < std::size(kOpInfos); ++i) {
    if (static_cast<size_t>(kOpInfos[i].kind) != i) return false;
  }
  return true;
}
static_assert(KindsAreInOrder());

template <class T>
constexpr size_t ArgBytes() {
  T o{};
  size_t bytes = 0;
  ForEachArg(o, [&](ArgSpec spec, auto&) { bytes += ArgWidth(spec.type); });
  return bytes;
}
#define RESERVOIR_PROGRAM_CHECK_WIDTH(Kind, ...)             \
  static_assert(ArgBytes<op::Kind>() <= layout::kOpArgBytes, \
                "op_table.h: " #Kind " has too many argument bytes");
RESERVOIR_PROGRAM_OPS(RESERVOIR_PROGRAM_CHECK_WIDTH,
                      RESERVOIR_PROGRAM_IGNORE_ARG)
#undef RESERVOIR_PROGRAM_CHECK_WIDTH

}  // namespace

Op MakeOp(OpKind kind) {
  switch (kind) {
#define RESERVOIR_PROGRAM_MAKE(Kind, ...) \
  case OpKind::k##Kind: return op::Kind{};
    RESERVOIR_PROGRAM_OPS(RESERVOIR_PROGRAM_MAKE, RESERVOIR_PROGRAM_IGNORE_ARG)
#undef RESERVOIR_PROGRAM_MAKE
    case OpKind::kCount: break;
  }
  return op::Nop{};
}

}  // namespace reservoir::program
