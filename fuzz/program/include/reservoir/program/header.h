// The program header: the model configuration and fault-injection policy a
// program runs under. Every field takes its values from a small table or
// range so arenas stay small and any header byte decodes to a usable run.
#pragma once

#include <cstddef>
#include <cstdint>

#include "reservoir/config.h"
#include "reservoir/fault_site.h"

namespace reservoir::program {

// Which fault-injection policy the executor installs.
enum class FaultMode : uint8_t {
  kNone,     // no hook: nothing fails unless the allocator really fails
  kRandom,   // each eligible call at an armed site fails with probability_ppm
  kFailNth,  // the fail_nth-th eligible call at an armed site fails
  kInput,    // only fail_next operations decide, site by site
  kCount,
};

// The value tables. Index 0 of each is what a zero byte decodes to.
inline constexpr uint32_t kNormalPagesTable[] = {256, 512, 1024, 2048, 4096};
inline constexpr uint32_t kHighmemPagesTable[] = {0, 256, 512, 1024};
inline constexpr int32_t kDefaultMinFreeKbytes = -1;  // kernel's derivation
inline constexpr int32_t kMinFreeKbytesTable[] = {
    kDefaultMinFreeKbytes, 0, 16, 64, 128, 256, 512, 1024};
inline constexpr uint32_t kProbabilityPpmTable[] = {
    0, 1000, 10000, 50000, 100000, 250000, 500000, 1000000};
inline constexpr SlabPolicy kSlabPolicyTable[] = {SlabPolicy::kPageTag,
                                                  SlabPolicy::kNoMixing};
inline constexpr EstimatorKind kEstimatorTable[] = {EstimatorKind::kExact,
                                                    EstimatorKind::kTwiceNPlusM,
                                                    EstimatorKind::kPow2NPlusM};
// Programs always audit; kOff is for benchmarks, not for fuzzing.
inline constexpr AuditLevel kAuditTable[] = {AuditLevel::kCheap,
                                             AuditLevel::kFull};

inline constexpr int kMinMaxOrder = 4;
inline constexpr int kMaxMaxOrder = kMaxOrderLimit;  // 10
inline constexpr uint16_t kMaxNrCpus = 4;
inline constexpr uint32_t kMaxFailNth = 65536;  // stored as fail_nth - 1
inline constexpr uint8_t kAllSitesMask = (1u << kFaultSiteCount) - 1;

struct Header {
  // Model configuration (see ModelConfig).
  uint32_t normal_pages = kNormalPagesTable[0];
  uint32_t highmem_pages = kHighmemPagesTable[0];  // 0 = one zone
  int max_order = 8;  // kMinMaxOrder..MaxOrderFor(normal, highmem)
  int32_t min_free_kbytes = kDefaultMinFreeKbytes;
  uint16_t nr_cpus = 1;  // 1..kMaxNrCpus
  SlabPolicy slab_policy = SlabPolicy::kPageTag;
  EstimatorKind estimator = EstimatorKind::kExact;
  AuditLevel audit = AuditLevel::kCheap;
  // Fault injection.
  FaultMode fault_mode = FaultMode::kNone;
  uint32_t seed = 0;             // of the random draw (kRandom)
  uint32_t probability_ppm = 0;  // kRandom: per eligible call
  uint32_t fail_nth = 1;         // kFailNth: 1 = the first eligible call
  uint8_t armed_sites = 0;       // bit i: FaultSite i (kRandom, kFailNth)

  bool operator==(const Header&) const = default;
};

// The largest order that both zone sizes are a multiple of, capped at
// kMaxMaxOrder: what max_order may be at most.
constexpr int MaxOrderFor(uint32_t normal_pages, uint32_t highmem_pages) {
  int order = kMaxMaxOrder;
  auto fits = [&](uint32_t pages) {
    return pages % (uint32_t{1} << order) == 0;
  };
  while (order > 0 && !(fits(normal_pages) && fits(highmem_pages))) --order;
  return order;
}

constexpr bool SiteArmed(const Header& header, FaultSite site) {
  return (header.armed_sites >> static_cast<int>(site)) & 1;
}

// Index of `value` in `table`, or -1.
template <class T, size_t N>
constexpr int TableIndex(const T (&table)[N], T value) {
  for (size_t i = 0; i < N; ++i) {
    if (table[i] == value) return static_cast<int>(i);
  }
  return -1;
}

// The model configuration this header asks for; knobs a program does not
// choose keep ModelConfig's defaults.
ModelConfig ToModelConfig(const Header& header);

}  // namespace reservoir::program
