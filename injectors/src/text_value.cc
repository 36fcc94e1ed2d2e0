#include "text_value.h"

#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace reservoir::injectors {
namespace {

constexpr size_t kMaxQuotedLength = 48;

absl::Status OutOfRange(std::string_view text, const std::string& min,
                        const std::string& max) {
  return absl::OutOfRangeError(
      absl::StrCat(QuoteForMessage(text), " is out of range ", min, "..", max));
}

}  // namespace

bool IsAllDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string QuoteForMessage(std::string_view text) {
  const bool shortened = text.size() > kMaxQuotedLength;
  if (shortened) text = text.substr(0, kMaxQuotedLength);
  return absl::StrCat("\"", absl::CHexEscape(ToAbsl(text)),
                      shortened ? "...\"" : "\"");
}

absl::Status ParseUnsigned(std::string_view text, uint64_t min, uint64_t max,
                           uint64_t* out) {
  if (!IsAllDigits(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat(QuoteForMessage(text), " is not a decimal number"));
  }
  uint64_t value = 0;
  for (char digit : text) {
    const uint64_t d = static_cast<uint64_t>(digit - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - d) / 10) {
      return OutOfRange(text, absl::StrCat(min), absl::StrCat(max));
    }
    value = value * 10 + d;
  }
  if (value < min || value > max) {
    return OutOfRange(text, absl::StrCat(min), absl::StrCat(max));
  }
  *out = value;
  return absl::OkStatus();
}

absl::Status ParseSigned(std::string_view text, int64_t min, int64_t max,
                         int64_t* out) {
  const bool negative = !text.empty() && text.front() == '-';
  const std::string_view digits = negative ? text.substr(1) : text;
  if (!IsAllDigits(digits)) {
    return absl::InvalidArgumentError(
        absl::StrCat(QuoteForMessage(text), " is not a decimal number"));
  }
  // Magnitudes up to 2^63 fit; anything larger is out of range either way.
  uint64_t magnitude = 0;
  const absl::Status status =
      ParseUnsigned(digits, 0, uint64_t{1} << 63, &magnitude);
  if (!status.ok())
    return OutOfRange(text, absl::StrCat(min), absl::StrCat(max));
  if (!negative && magnitude > static_cast<uint64_t>(max)) {
    return OutOfRange(text, absl::StrCat(min), absl::StrCat(max));
  }
  const int64_t value = negative ? static_cast<int64_t>(0 - magnitude)
                                 : static_cast<int64_t>(magnitude);
  if (value < min || value > max) {
    return OutOfRange(text, absl::StrCat(min), absl::StrCat(max));
  }
  *out = value;
  return absl::OkStatus();
}

absl::Status ParseBool(std::string_view text, bool* out) {
  if (text == "1" || text == "Y" || text == "y") {
    *out = true;
    return absl::OkStatus();
  }
  if (text == "0" || text == "N" || text == "n") {
    *out = false;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(QuoteForMessage(text), " is not a bool (1/0, Y/N, y/n)"));
}

std::vector<std::string_view> SplitText(std::string_view text, char separator) {
  std::vector<std::string_view> pieces;
  size_t begin = 0;
  while (true) {
    const size_t end = text.find(separator, begin);
    if (end == std::string_view::npos) {
      pieces.push_back(text.substr(begin));
      return pieces;
    }
    pieces.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
}

std::string_view TrimSpace(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(kSpace);
  return text.substr(begin, end - begin + 1);
}

}  // namespace reservoir::injectors
