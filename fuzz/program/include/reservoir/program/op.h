// Operations: one struct per kind (op::AllocPages, op::Kmalloc, ...), the
// Op variant holding any of them, and per-kind facts (name, opcode slot,
// live-set effects, arguments), all generated from op_table.h.
//
// An executor switches on the variant:
//   std::visit([&](const auto& o) { Execute(o); }, op);
// and generic code (decode, encode, text) walks the arguments of any kind:
//   ForEachArg(o, [&](ArgSpec spec, auto& value) { ... });
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>
#include <variant>

#include "reservoir/program/arg_type.h"
#include "reservoir/program/op_table.h"

namespace reservoir::program {

// For expansions of RESERVOIR_PROGRAM_OPS that do not look at arguments.
#define RESERVOIR_PROGRAM_IGNORE_ARG(type, field)

// clang-format off
enum class OpKind : uint8_t {
#define RESERVOIR_PROGRAM_KIND(Kind, text, slot, adds, removes, args) k##Kind,
  RESERVOIR_PROGRAM_OPS(RESERVOIR_PROGRAM_KIND, RESERVOIR_PROGRAM_IGNORE_ARG)
#undef RESERVOIR_PROGRAM_KIND
  kCount,
};
// clang-format on

inline constexpr int kOpKindCount = static_cast<int>(OpKind::kCount);

namespace op {

// Every field defaults to what a zero byte decodes to, so a default
// operation is canonical and matches an all-zero record.
#define RESERVOIR_PROGRAM_FIELD(type, field) \
  ArgStorage<ArgType::k##type> field = ArgDefault<ArgType::k##type>();
#define RESERVOIR_PROGRAM_STRUCT(Kind, text, slot, adds, removes, args) \
  struct Kind {                                                         \
    static constexpr OpKind kKind = OpKind::k##Kind;                    \
    args bool operator==(const Kind&) const = default;                  \
  };
RESERVOIR_PROGRAM_OPS(RESERVOIR_PROGRAM_STRUCT, RESERVOIR_PROGRAM_FIELD)
#undef RESERVOIR_PROGRAM_STRUCT
#undef RESERVOIR_PROGRAM_FIELD

// ForEachArg(o, visit) calls visit(ArgSpec, field&) for each argument of
// `o` in binary record order.
#define RESERVOIR_PROGRAM_VISIT_ARG(type, field) \
  visit(ArgSpec{ArgType::k##type, #field}, o.field);
#define RESERVOIR_PROGRAM_FOR_EACH_ARG(Kind, text, slot, adds, removes, args) \
  template <class Visit>                                                      \
  constexpr void ForEachArg(Kind& o, Visit&& visit) {                         \
    (void)o;                                                                  \
    (void)visit;                                                              \
    args                                                                      \
  }                                                                           \
  template <class Visit>                                                      \
  constexpr void ForEachArg(const Kind& o, Visit&& visit) {                   \
    (void)o;                                                                  \
    (void)visit;                                                              \
    args                                                                      \
  }
RESERVOIR_PROGRAM_OPS(RESERVOIR_PROGRAM_FOR_EACH_ARG,
                      RESERVOIR_PROGRAM_VISIT_ARG)
#undef RESERVOIR_PROGRAM_FOR_EACH_ARG
#undef RESERVOIR_PROGRAM_VISIT_ARG

}  // namespace op

// The variant's alternatives are in OpKind order: KindOf(op) is its index.
#define RESERVOIR_PROGRAM_ALTERNATIVE(Kind, ...) , op::Kind
#define RESERVOIR_PROGRAM_DROP_FIRST(first, ...) __VA_ARGS__
#define RESERVOIR_PROGRAM_EXPAND_DROP_FIRST(...) \
  RESERVOIR_PROGRAM_DROP_FIRST(__VA_ARGS__)
using Op =
    std::variant<RESERVOIR_PROGRAM_EXPAND_DROP_FIRST(RESERVOIR_PROGRAM_OPS(
        RESERVOIR_PROGRAM_ALTERNATIVE, RESERVOIR_PROGRAM_IGNORE_ARG))>;
#undef RESERVOIR_PROGRAM_EXPAND_DROP_FIRST
#undef RESERVOIR_PROGRAM_DROP_FIRST
#undef RESERVOIR_PROGRAM_ALTERNATIVE

#define RESERVOIR_PROGRAM_CHECK_INDEX(Kind, ...)                              \
  static_assert(std::is_same_v<std::variant_alternative_t<                    \
                                   static_cast<size_t>(OpKind::k##Kind), Op>, \
                               op::Kind>);
RESERVOIR_PROGRAM_OPS(RESERVOIR_PROGRAM_CHECK_INDEX,
                      RESERVOIR_PROGRAM_IGNORE_ARG)
#undef RESERVOIR_PROGRAM_CHECK_INDEX

constexpr OpKind KindOf(const Op& op) {
  return static_cast<OpKind>(op.index());
}

// Facts about one kind, straight from the table.
struct OpInfo {
  OpKind kind;
  const char* name;
  uint8_t slot;
  LiveSet adds;     // appended to on success
  LiveSet removes;  // the indexed element of this set is removed
};

inline constexpr OpInfo kOpInfos[] = {
#define RESERVOIR_PROGRAM_INFO(Kind, text, slot, adds, removes, args) \
  {OpKind::k##Kind, #text, slot, LiveSet::k##adds, LiveSet::k##removes},
    RESERVOIR_PROGRAM_OPS(RESERVOIR_PROGRAM_INFO, RESERVOIR_PROGRAM_IGNORE_ARG)
#undef RESERVOIR_PROGRAM_INFO
};
static_assert(std::size(kOpInfos) == kOpKindCount);

constexpr const OpInfo& InfoOf(OpKind kind) {
  return kOpInfos[static_cast<size_t>(kind)];
}
constexpr const char* OpName(OpKind kind) { return InfoOf(kind).name; }

// A default (canonical, all-zero-argument) operation of `kind`; kCount and
// other out-of-range kinds give op::Nop.
Op MakeOp(OpKind kind);

// Calls visit(ArgSpec, value&) for each argument of whatever `op` holds.
template <class Visit>
constexpr void ForEachArgOf(Op& op, Visit&& visit) {
  std::visit([&](auto& o) { ForEachArg(o, visit); }, op);
}
template <class Visit>
constexpr void ForEachArgOf(const Op& op, Visit&& visit) {
  std::visit([&](const auto& o) { ForEachArg(o, visit); }, op);
}

}  // namespace reservoir::program
