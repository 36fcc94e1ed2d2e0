// The knobs of one model instance. A model is fully determined by its
// config and the sequence of calls made on it.
#pragma once

#include <cstdint>

#include "reservoir/gfp.h"

namespace reservoir {

// Which rule keeps reserve slabs away from callers who may not use them.
enum class SlabPolicy : uint8_t {
  // Mainline SLUB (Zijlstra's page tag, Linux 3.6): a slab built on a
  // pfmemalloc page serves only entitled callers; entitled callers may take
  // objects from any slab.
  kPageTag,
  // Phillips' "no mixing": an entitled caller first tries exactly what an
  // unentitled caller could get; only if that fails does it get an object
  // from a reserve slab. A reserve slab therefore only ever holds objects
  // that needed the reserve, and a normal slab never holds one.
  kNoMixing,
};

// How a reserve demand is translated into pages (see docs/MODEL.md).
enum class EstimatorKind : uint8_t {
  kExact,         // the worst-case bound under the model's own slab rules
  kTwiceNPlusM,   // Zijlstra: 2N + m bytes
  kPow2NPlusM,    // Phillips: exp2(ceil(log2(N + m))) bytes
};

enum class AuditLevel : uint8_t {
  kOff,    // no checks beyond misuse detection (which is always on)
  kCheap,  // after every operation, O(what the operation touched)
  kFull,   // the cheap tier plus a walk of everything after every operation
};

// When a model audits: one schedule, owned by the Model and read by every
// layer (a layer built on its own, as in unit tests, owns its own).
struct AuditSchedule {
  AuditLevel level = AuditLevel::kCheap;
  // Under kFull: 0 = the full audit after every model call; K > 0 = after
  // every K-th operation a driver ends (Model::EndOperation()), the cheap
  // tier after every call in between.
  uint32_t full_every = 0;
  uint32_t since_full = 0;  // operations ended since the last full audit
  bool cheap() const { return level != AuditLevel::kOff; }
  bool full_after_each_call() const {
    return level == AuditLevel::kFull && full_every == 0;
  }
  // Counts one ended operation; true when the full audit is due.
  bool EndOperation() {
    if (level != AuditLevel::kFull || full_every == 0) return false;
    if (++since_full < full_every) return false;
    since_full = 0;
    return true;
  }
};

const char* SlabPolicyName(SlabPolicy policy);
const char* EstimatorKindName(EstimatorKind kind);
const char* AuditLevelName(AuditLevel level);

struct ModelConfig {
  // Pages in ZONE_NORMAL and in ZONE_HIGHMEM (0 = one zone). Each must be a
  // multiple of 2^max_order pages.
  uint32_t normal_pages = 4096;   // 16 MiB
  uint32_t highmem_pages = 0;
  int max_order = kMaxOrderLimit;  // largest buddy order, <= kMaxOrderLimit
  // As /proc/sys/vm/min_free_kbytes; -1 derives it like the kernel's
  // init_per_zone_wmark_min() (sqrt(lowmem_kbytes * 16), clamped).
  int64_t min_free_kbytes = -1;
  int watermark_scale_factor = 10;  // as vm.watermark_scale_factor
  int lowmem_reserve_ratio = 32;    // NORMAL vs HIGHMEM, as the kernel's
  uint16_t nr_cpus = 2;             // simulated CPUs, <= kMaxCpus
  SlabPolicy slab_policy = SlabPolicy::kPageTag;
  EstimatorKind estimator = EstimatorKind::kExact;
  AuditLevel audit = AuditLevel::kCheap;
};

// Returns null when the config is usable, else a static one-line reason.
const char* ValidateConfig(const ModelConfig& config);

}  // namespace reservoir
