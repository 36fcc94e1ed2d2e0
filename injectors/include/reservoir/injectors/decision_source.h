// Input-driven decisions: in mode=input a site asks a DecisionSource, not the
// seeded generator, whether the call that reached the draw fails. A fuzz
// target feeds it from its input, so the fuzzer's mutations choose which
// calls fail and a crashing input replays its failures exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "reservoir/fault_site.h"

namespace reservoir::injectors {

class DecisionSource {
 public:
  virtual ~DecisionSource() = default;
  // True when `call` must fail. Called once per call that reaches the draw
  // of an input-mode site, in call order.
  virtual bool NextDecision(const FaultCall& call) = 0;
};

// Decisions read from a byte span, front to back. When the bytes run out
// every further decision is "do not fail", so a short input means few
// failures, never an error.
class InputDecisions final : public DecisionSource {
 public:
  enum class Encoding : uint8_t {
    kBitPerDecision,   // bit i of the span (LSB first) decides decision i
    kBytePerDecision,  // the low bit of byte i decides decision i (as
                       // FuzzedDataProvider::ConsumeBool reads a byte)
  };

  InputDecisions() = default;
  explicit InputDecisions(std::span<const uint8_t> bytes,
                          Encoding encoding = Encoding::kBitPerDecision)
      : bytes_(bytes), encoding_(encoding) {}

  // Start over on new bytes (the bytes are not copied: keep them alive).
  void Reset(std::span<const uint8_t> bytes) {
    bytes_ = bytes;
    consumed_ = 0;
  }

  bool NextDecision(const FaultCall& call) override;

  // Decisions taken so far, including those taken after exhaustion.
  uint64_t consumed() const { return consumed_; }
  // Decisions the bytes can supply before every answer becomes "no".
  uint64_t capacity() const {
    return encoding_ == Encoding::kBitPerDecision ? uint64_t{bytes_.size()} * 8
                                                  : uint64_t{bytes_.size()};
  }
  bool exhausted() const { return consumed_ >= capacity(); }

 private:
  std::span<const uint8_t> bytes_;
  Encoding encoding_ = Encoding::kBitPerDecision;
  uint64_t consumed_ = 0;
};

// Decisions from a function, e.g. one that asks a FuzzedDataProvider:
//   CallbackDecisions source(
//       [](void* fdp, const FaultCall&) {
//         return static_cast<FuzzedDataProvider*>(fdp)->ConsumeBool();
//       },
//       &fdp);
// FuzzedDataProvider answers false once it is empty, which is exactly the
// "exhausted means no failure" rule of InputDecisions.
class CallbackDecisions final : public DecisionSource {
 public:
  using Callback = bool (*)(void* arg, const FaultCall& call);

  CallbackDecisions(Callback callback, void* arg)
      : callback_(callback), arg_(arg) {}

  bool NextDecision(const FaultCall& call) override {
    return callback_ != nullptr && callback_(arg_, call);
  }

 private:
  Callback callback_;
  void* arg_;
};

}  // namespace reservoir::injectors
