// Names of the config enums and the config's own validation.
#include "reservoir/config.h"

namespace reservoir {

const char* SlabPolicyName(SlabPolicy policy) {
  switch (policy) {
    case SlabPolicy::kPageTag: return "page-tag";
    case SlabPolicy::kNoMixing: return "no-mixing";
  }
  return "unknown";
}

const char* EstimatorKindName(EstimatorKind kind) {
  switch (kind) {
    case EstimatorKind::kExact: return "exact";
    case EstimatorKind::kTwiceNPlusM: return "2n+m";
    case EstimatorKind::kPow2NPlusM: return "pow2";
  }
  return "unknown";
}

const char* AuditLevelName(AuditLevel level) {
  switch (level) {
    case AuditLevel::kOff: return "off";
    case AuditLevel::kCheap: return "cheap";
    case AuditLevel::kFull: return "full";
  }
  return "unknown";
}

const char* ValidateConfig(const ModelConfig& config) {
  if (config.max_order < 0 || config.max_order > kMaxOrderLimit)
    return "max_order must be within 0..10";
  const uint32_t block = 1u << config.max_order;
  if (config.normal_pages == 0) return "normal_pages must be positive";
  if (config.normal_pages % block != 0)
    return "normal_pages must be a multiple of 2^max_order";
  if (config.highmem_pages % block != 0)
    return "highmem_pages must be a multiple of 2^max_order";
  if (uint64_t{config.normal_pages} + config.highmem_pages > (1u << 20))
    return "the arena is limited to 2^20 pages (4 GiB)";
  if (config.nr_cpus == 0 || config.nr_cpus > kMaxCpus)
    return "nr_cpus must be within 1..8";
  if (config.min_free_kbytes < -1) return "min_free_kbytes must be >= -1";
  if (config.watermark_scale_factor < 1 || config.watermark_scale_factor > 3000)
    return "watermark_scale_factor must be within 1..3000";
  if (config.lowmem_reserve_ratio < 1)
    return "lowmem_reserve_ratio must be positive";
  return nullptr;
}

}  // namespace reservoir
