// Decoding and encoding inputs for a target profile.
#include "reservoir/targets/target_profile.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "reservoir/program/decode.h"
#include "reservoir/program/encode.h"
#include "reservoir/program/layout.h"

namespace reservoir::targets {

using program::Op;
using program::OpKind;
using program::Program;
namespace layout = program::layout;

const program::FaultMode* ForcedFaultMode() {
  using program::FaultMode;
  static const FaultMode* const forced = [] () -> const FaultMode* {
    static FaultMode mode = FaultMode::kNone;
    const char* value = std::getenv("RESERVOIR_FAULT_MODE");
    if (value == nullptr) return nullptr;
    static constexpr struct {
      const char* name;
      FaultMode mode;
    } kModes[] = {{"none", FaultMode::kNone},
                  {"random", FaultMode::kRandom},
                  {"fail_nth", FaultMode::kFailNth},
                  {"input", FaultMode::kInput}};
    for (const auto& m : kModes) {
      if (std::strcmp(value, m.name) == 0) {
        mode = m.mode;
        return &mode;
      }
    }
    std::fprintf(stderr, "RESERVOIR_FAULT_MODE=%s: expected none, random, "
                 "fail_nth or input\n", value);
    std::exit(2);
  }();
  return forced;
}

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
  if (const program::FaultMode* mode = ForcedFaultMode()) {
    program::Header& header = body.header;
    header.fault_mode = *mode;
    if ((*mode == program::FaultMode::kRandom ||
         *mode == program::FaultMode::kFailNth) && header.armed_sites == 0) {
      header.armed_sites = program::kAllSitesMask;
    }
    if (*mode == program::FaultMode::kRandom && header.probability_ppm == 0) {
      header.probability_ppm = 10000;
    }
  }
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
