// Decoding and encoding inputs for a target profile.
#include "reservoir/targets/target_profile.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "reservoir/program/decode.h"
#include "reservoir/program/encode.h"
#include "reservoir/program/layout.h"

namespace reservoir::targets {

using program::Op;
using program::OpKind;
using program::Program;
namespace layout = program::layout;

const TargetProfile* FindTarget(std::string_view name) {
  for (const TargetProfile& target : AllTargets()) {
    if (name == target.name) return &target;
  }
  return nullptr;
}

Program DecodeForTarget(const TargetProfile& target,
                        std::span<const uint8_t> input) {
  Program body;
  DecodeForTargetInto(target, input, &body);
  return body;
}

void DecodeForTargetInto(const TargetProfile& target,
                         std::span<const uint8_t> input, Program* out) {
  Program& body = *out;
  body.ops.clear();
  const size_t header_size = std::min(input.size(), layout::kHeaderSize);
  body.header = program::DecodeHeader(input.first(header_size));
  if (input.size() > layout::kHeaderSize) {
    const std::span<const uint8_t> records = input.subspan(layout::kHeaderSize);
    const size_t count =
        std::min(program::kMaxOps, (records.size() + layout::kOpRecordSize - 1) /
                                       layout::kOpRecordSize);
    body.ops.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      std::array<uint8_t, layout::kOpRecordSize> record{};
      const size_t begin = i * layout::kOpRecordSize;
      const size_t size = std::min(layout::kOpRecordSize, records.size() - begin);
      std::memcpy(record.data(), records.data() + begin, size);
      if (!target.kinds.empty()) {
        // The target's own opcode map: byte % (number of kinds it knows).
        const OpKind kind = target.kinds[record[0] % target.kinds.size()];
        record[0] = program::InfoOf(kind).slot;
      }
      body.ops.push_back(program::DecodeOp(record));
    }
  }
  if (target.shape != nullptr) target.shape(input, &body);
}

bool EncodeForTarget(const TargetProfile& target, const Program& body,
                     std::vector<uint8_t>* out, std::string* error) {
  if (body.ops.size() > program::kMaxOps) {
    *error = "more than 256 operations";
    return false;
  }
  const auto header = program::EncodeHeader(body.header);
  out->assign(header.begin(), header.end());
  for (const Op& op : body.ops) {
    auto record = program::EncodeOp(op);
    if (!target.kinds.empty()) {
      const auto it = std::find(target.kinds.begin(), target.kinds.end(),
                                program::KindOf(op));
      if (it == target.kinds.end()) {
        *error = std::string("target ") + target.name + " cannot express " +
                 program::OpName(program::KindOf(op));
        return false;
      }
      record[0] = static_cast<uint8_t>(it - target.kinds.begin());
    }
    out->insert(out->end(), record.begin(), record.end());
  }
  return true;
}

}  // namespace reservoir::targets
