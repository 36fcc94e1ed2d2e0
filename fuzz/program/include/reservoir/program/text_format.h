// Program <-> readable text, one operation per line:
//
//   # reservoir program v1
//   config normal_pages=1024 highmem_pages=0 max_order=10 ...
//   faults mode=none seed=0 probability_ppm=0 fail_nth=1 sites=none
//   kmalloc size=100 gfp=KERNEL|ZERO cpu=0
//   kfree obj=0
//
// ToText writes the canonical text; FromText(ToText(p)) == p for every
// encodable program, and ToText(FromText(t).program) == t for canonical t.
// FromText also accepts comments ('#' to the end of a line), blank lines,
// fields in any order and numbers in hex (0x...). Everything it accepts is
// encodable. The grammar is in docs/PROGRAM-FORMAT.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reservoir/program/program.h"

namespace reservoir::program {

// The first line ToText writes; FromText rejects any other version marker.
inline constexpr std::string_view kTextFormatFirstLine =
    "# reservoir program v1";

std::string ToText(const Program& program);
// One operation as it appears on its line (no newline).
std::string OpToText(const Op& op);
// gfp flags as the text form spells them: "KERNEL|ZERO", "ATOMIC", "0".
std::string GfpToText(uint8_t gfp);

struct TextError {
  int line = 0;         // 1-based
  std::string problem;  // one line, e.g. "kmalloc: missing field 'cpu'"
  std::string ToString() const;  // "line 7: kmalloc: missing field 'cpu'"
};

struct ParseResult {
  Program program;            // meaningful only when ok()
  std::vector<int> op_lines;  // the source line of each operation
  std::optional<TextError> error;
  bool ok() const { return !error.has_value(); }
};

// Stops at the first bad line.
[[nodiscard]] ParseResult FromText(std::string_view text);

}  // namespace reservoir::program
