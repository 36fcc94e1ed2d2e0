// Strict readers for the values of the fault configuration syntax. Strict
// means: the whole text is the value (no sign where none is allowed, no
// spaces, no trailing junk, no overflow), because a typo must be an error
// and never quietly mean something else.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace reservoir::injectors {

bool IsAllDigits(std::string_view text);

// `text` quoted and escaped, shortened if long, so an error message stays
// one printable line whatever the input held.
std::string QuoteForMessage(std::string_view text);

// Decimal digits only, within [min, max].
absl::Status ParseUnsigned(std::string_view text, uint64_t min, uint64_t max,
                           uint64_t* out);
// An optional '-' and decimal digits, within [min, max].
absl::Status ParseSigned(std::string_view text, int64_t min, int64_t max,
                         int64_t* out);
// debugfs bool spellings: 1/0, Y/N, y/n.
absl::Status ParseBool(std::string_view text, bool* out);

// ASCII whitespace trimmed from both ends.
std::string_view TrimSpace(std::string_view text);

// Debian's Abseil is built with its own absl::string_view (not an alias of
// std::string_view), so text crosses into absl::StrCat and friends here.
inline absl::string_view ToAbsl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

// `text` split at every `separator` (n separators give n + 1 pieces).
std::vector<std::string_view> SplitText(std::string_view text, char separator);

}  // namespace reservoir::injectors
