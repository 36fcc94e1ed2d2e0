#include "reservoir/injectors/probability.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "text_value.h"

namespace reservoir::injectors {

absl::StatusOr<Probability> Probability::Parse(std::string_view text) {
  const std::string_view whole = text.substr(0, text.find('.'));
  const bool has_fraction = whole.size() != text.size();
  const std::string_view fraction =
      has_fraction ? text.substr(whole.size() + 1) : std::string_view();

  if (whole.empty() || !IsAllDigits(whole) ||
      (has_fraction && (fraction.empty() || !IsAllDigits(fraction)))) {
    return absl::InvalidArgumentError(
        absl::StrCat(QuoteForMessage(text),
                     " is not a percentage (digits, optionally '.' and up to ",
                     kMaxDecimals, " decimals)"));
  }
  if (fraction.size() > static_cast<size_t>(kMaxDecimals)) {
    return absl::InvalidArgumentError(
        absl::StrCat(QuoteForMessage(text), " has more than ", kMaxDecimals,
                     " decimals (finer than 1e-7 percent)"));
  }
  // Long runs of leading zeros are harmless but could overflow a naive
  // accumulation; anything above three significant digits is > 100 anyway.
  const size_t first_significant = whole.find_first_not_of('0');
  const std::string_view significant =
      first_significant == std::string_view::npos
          ? std::string_view()
          : whole.substr(first_significant);
  if (significant.size() > 3) {
    return absl::OutOfRangeError(
        absl::StrCat(QuoteForMessage(text), " is above 100 percent"));
  }
  uint64_t billionths = 0;
  for (char digit : significant) billionths = billionths * 10 + (digit - '0');
  billionths *= kPerPercent;
  uint64_t fraction_scale = kPerPercent / 10;
  for (char digit : fraction) {
    billionths += static_cast<uint64_t>(digit - '0') * fraction_scale;
    fraction_scale /= 10;
  }
  if (billionths > kScale) {
    return absl::OutOfRangeError(
        absl::StrCat(QuoteForMessage(text), " is above 100 percent"));
  }
  return FromBillionths(static_cast<uint32_t>(billionths));
}

void Probability::Format(char (&text)[kMaxTextSize]) const {
  const uint32_t fraction = billionths_ % kPerPercent;
  if (fraction == 0) {
    std::snprintf(text, kMaxTextSize, "%u", billionths_ / kPerPercent);
    return;
  }
  std::snprintf(text, kMaxTextSize, "%u.%07u", billionths_ / kPerPercent,
                fraction);
  // Trailing zeros of the decimals carry nothing.
  size_t length = std::strlen(text);
  while (text[length - 1] == '0') text[--length] = '\0';
}

std::string Probability::ToString() const {
  char text[kMaxTextSize];
  Format(text);
  return text;
}

}  // namespace reservoir::injectors
