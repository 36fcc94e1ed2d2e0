// The chance that the random draw fails a call. The kernel keeps whole
// percent; one failure per hundred calls is far too many for long runs, so
// Reservoir keeps the percent syntax ("5" is 5%) and also accepts up to
// seven decimals ("0.125" is one call in 800), stored exactly as parts per
// 10^9.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace reservoir::injectors {

class Probability {
 public:
  static constexpr uint32_t kScale = 1'000'000'000;      // 100 percent
  static constexpr uint32_t kPerPercent = kScale / 100;  // 1 percent
  static constexpr int kMaxDecimals = 7;                 // 10^-7 percent

  constexpr Probability() = default;

  // Whole percent, 0..100 (larger values are clamped to 100).
  static constexpr Probability Percent(uint32_t percent) {
    return FromBillionths(percent >= 100 ? kScale : percent * kPerPercent);
  }
  // Parts per 10^9, 0..kScale (larger values are clamped to kScale).
  static constexpr Probability FromBillionths(uint32_t billionths) {
    Probability p;
    p.billionths_ = billionths > kScale ? kScale : billionths;
    return p;
  }

  // "<percent>[.<up to 7 decimals>]", 0 <= value <= 100; anything else is
  // an error whose message says why (the caller names the field).
  static absl::StatusOr<Probability> Parse(std::string_view text);

  // Shortest text Parse() reads back to the same value: "5", "0.125".
  std::string ToString() const;
  // The same text into a caller's buffer, for paths that must not allocate.
  static constexpr size_t kMaxTextSize = 12;  // "100" or "99.9999999", NUL
  void Format(char (&text)[kMaxTextSize]) const;

  constexpr uint32_t billionths() const { return billionths_; }
  constexpr bool is_zero() const { return billionths_ == 0; }

  // The draw test of should_fail_ex: `draw` is uniform in [0, kScale) and
  // the call fails when it falls below the probability, so 0 never fails
  // and 100 always does.
  constexpr bool Fails(uint32_t draw) const { return draw < billionths_; }

  friend constexpr bool operator==(Probability a, Probability b) {
    return a.billionths_ == b.billionths_;
  }

 private:
  uint32_t billionths_ = 0;
};

}  // namespace reservoir::injectors
