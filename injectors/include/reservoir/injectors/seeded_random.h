// The injectors' own pseudo-random generator: SplitMix64. One word of state,
// so seeding and resetting are a store, and no clock or device entropy ever
// enters, so the same seed replays the same draws on every machine.
#pragma once

#include <cstdint>

namespace reservoir::injectors {

class SeededRandom {
 public:
  constexpr SeededRandom() = default;
  constexpr explicit SeededRandom(uint64_t seed) : state_(seed) {}

  constexpr uint64_t Next() {
    state_ += kGamma;
    return Mix(state_);
  }

  // Uniform in [0, bound): the high word of a 64x64-bit product (Lemire's
  // method without the rejection step; its bias is below bound / 2^64,
  // invisible at the 10^9 bound the draw uses).
  constexpr uint32_t Below(uint32_t bound) {
    return static_cast<uint32_t>(
        (static_cast<unsigned __int128>(Next()) * bound) >> 64);
  }

  // A seed for stream `stream` of the run seeded with `seed`: every fault
  // site draws from its own stream, so arming one site does not shift
  // another site's schedule.
  static constexpr uint64_t StreamSeed(uint64_t seed, uint64_t stream) {
    return Mix(seed ^ Mix(stream + kGamma));
  }

  constexpr uint64_t state() const { return state_; }

 private:
  static constexpr uint64_t kGamma = 0x9e3779b97f4a7c15;

  static constexpr uint64_t Mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }

  uint64_t state_ = 0;
};

}  // namespace reservoir::injectors
