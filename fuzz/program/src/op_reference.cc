#include "reservoir/program/op_reference.h"

#include "reservoir/program/arg_type.h"
#include "reservoir/program/layout.h"
#include "reservoir/program/op.h"

namespace reservoir::program {
namespace {

// How ArgFromRaw reads each type, in words.
std::string DecodeRule(ArgType type) {
  switch (type) {
    case ArgType::kOrder:
      return "raw % " + std::to_string(kMaxProgramOrder + 1);
    case ArgType::kGfp: return "raw (gfp.h flag bits)";
    case ArgType::kCpu: return "raw % " + std::to_string(kProgramCpus);
    case ArgType::kFreeCpu:
      return "raw % " + std::to_string(kProgramCpus + 1) +
             ": 0 = the allocating CPU, k = CPU k - 1";
    case ArgType::kSize: return "raw; 0 reads as 1";
    case ArgType::kAlign:
      return "1 << (raw % " + std::to_string(kMaxAlignShift + 1) + ")";
    case ArgType::kSite:
      return "raw % " + std::to_string(kFaultSiteCount) + " (FaultSite order)";
    case ArgType::kPages:
    case ArgType::kObjects:
    case ArgType::kBytes:
    case ArgType::kSkip: return "raw";
    default: return "raw; taken modulo the live set's size when executed";
  }
}

std::string Code(const std::string& text) { return "`" + text + "`"; }

// A table cell: a bare '|' would end the cell.
std::string Cell(const std::string& text) {
  std::string cell;
  for (char c : text) {
    if (c == '|') cell += '\\';
    cell += c;
  }
  return cell;
}

// "33..63" and the like: the slots no kind owns.
std::string UnusedSlots() {
  bool used[layout::kOpcodeSlots] = {};
  for (const OpInfo& info : kOpInfos) used[info.slot] = true;
  std::string ranges;
  for (int slot = 0; slot < layout::kOpcodeSlots;) {
    if (used[slot]) {
      ++slot;
      continue;
    }
    const int first = slot;
    while (slot < layout::kOpcodeSlots && !used[slot]) ++slot;
    if (!ranges.empty()) ranges += ", ";
    ranges += std::to_string(first);
    if (slot - 1 > first) ranges += ".." + std::to_string(slot - 1);
  }
  return ranges;
}

}  // namespace

std::string ArgTypeReferenceMarkdown() {
  std::string text =
      "| type | bytes | value from the raw bytes (LE) | text values |\n"
      "|---|---|---|---|\n";
  for (int i = 0; i < kArgTypeCount; ++i) {
    const auto type = static_cast<ArgType>(i);
    text += "| " + std::string(ArgTypeName(type)) + " | " +
            std::to_string(ArgWidth(type)) + " | " + DecodeRule(type) + " | " +
            Cell(ArgRangeText(type)) + " |\n";
  }
  return text;
}

std::string OpReferenceMarkdown() {
  std::string text =
      "| slot | op | record bytes after the opcode | text form | live sets |\n"
      "|---|---|---|---|---|\n";
  for (const OpInfo& info : kOpInfos) {
    std::string layout_text;
    std::string form = info.name;
    size_t offset = 1;
    ForEachArgOf(MakeOp(info.kind), [&](ArgSpec spec, const auto&) {
      const int width = ArgWidth(spec.type);
      if (!layout_text.empty()) layout_text += ", ";
      layout_text += std::to_string(offset);
      if (width > 1) layout_text += "-" + std::to_string(offset + width - 1);
      layout_text += ": " + std::string(spec.name);
      const std::string field =
          std::string(spec.name) + "=<" + ArgTypeName(spec.type) + ">";
      form += ArgOptional(spec.type) ? " [" + field + "]" : " " + field;
      offset += width;
    });
    std::string effect;
    if (info.adds != LiveSet::kNone) {
      effect = std::string("adds to ") + LiveSetName(info.adds);
    }
    if (info.removes != LiveSet::kNone) {
      effect = std::string("removes from ") + LiveSetName(info.removes);
      if (info.kind == OpKind::kCacheDestroy) {
        effect += " (only a cache without objects)";
      }
    }
    text += "| " + std::to_string(info.slot) + " | " + Code(info.name) + " | " +
            (layout_text.empty() ? "-" : layout_text) + " | " + Code(form) +
            " | " + (effect.empty() ? "-" : effect) + " |\n";
  }
  text +=
      "| " + UnusedSlots() + " | (unused) | ignored | decodes as `nop` | - |\n";
  return text;
}

}  // namespace reservoir::program
