// Random encodable programs for the round-trip tests. Values are drawn from
// each field's own table or range, never through Decode, so the tests do
// not assume the property they check.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "reservoir/program/program.h"

namespace reservoir::program::testing {

// A value of `type`: often an edge of its range, otherwise uniform.
inline uint32_t RandomArgValue(std::mt19937& rng, ArgType type) {
  if (type == ArgType::kAlign) {
    return uint32_t{1} << std::uniform_int_distribution<int>(0, 7)(rng);
  }
  const uint32_t lo = ArgMin(type);
  const uint32_t hi = ArgMax(type);
  switch (std::uniform_int_distribution<int>(0, 3)(rng)) {
    case 0: return lo;
    case 1: return hi;
    default: return std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
  }
}

inline Op RandomOp(std::mt19937& rng, OpKind kind) {
  Op op = MakeOp(kind);
  ForEachArgOf(op, [&](ArgSpec spec, auto& value) {
    value = ArgFromNumber<std::remove_reference_t<decltype(value)>>(
        RandomArgValue(rng, spec.type));
  });
  return op;
}

template <class T, size_t N>
T Pick(std::mt19937& rng, const T (&table)[N]) {
  return table[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

inline Header RandomHeader(std::mt19937& rng) {
  auto between = [&](uint32_t lo, uint32_t hi) {
    return std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
  };
  Header h;
  h.normal_pages = Pick(rng, kNormalPagesTable);
  h.highmem_pages = Pick(rng, kHighmemPagesTable);
  h.max_order = static_cast<int>(
      between(kMinMaxOrder, MaxOrderFor(h.normal_pages, h.highmem_pages)));
  h.min_free_kbytes = Pick(rng, kMinFreeKbytesTable);
  h.nr_cpus = static_cast<uint16_t>(between(1, kMaxNrCpus));
  h.slab_policy = Pick(rng, kSlabPolicyTable);
  h.estimator = Pick(rng, kEstimatorTable);
  h.audit = Pick(rng, kAuditTable);
  h.fault_mode = static_cast<FaultMode>(
      between(0, static_cast<uint32_t>(FaultMode::kCount) - 1));
  h.seed = between(0, UINT32_MAX);
  h.probability_ppm = Pick(rng, kProbabilityPpmTable);
  h.fail_nth = between(1, kMaxFailNth);
  h.armed_sites = static_cast<uint8_t>(between(0, kAllSitesMask));
  return h;
}

inline Program RandomProgram(std::mt19937& rng, size_t max_ops = kMaxOps) {
  Program program;
  program.header = RandomHeader(rng);
  const size_t count = std::uniform_int_distribution<size_t>(0, max_ops)(rng);
  for (size_t i = 0; i < count; ++i) {
    const auto kind = static_cast<OpKind>(
        std::uniform_int_distribution<int>(0, kOpKindCount - 1)(rng));
    program.ops.push_back(RandomOp(rng, kind));
  }
  return program;
}

inline std::vector<uint8_t> RandomBytes(std::mt19937& rng, size_t max_size) {
  std::vector<uint8_t> bytes(
      std::uniform_int_distribution<size_t>(0, max_size)(rng));
  for (uint8_t& byte : bytes) {
    byte =
        static_cast<uint8_t>(std::uniform_int_distribution<int>(0, 255)(rng));
  }
  return bytes;
}

}  // namespace reservoir::program::testing
