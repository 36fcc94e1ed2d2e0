// Builders for the FaultCalls the model would make, for the injector tests.
#pragma once

#include <cstdint>

#include "reservoir/fault_site.h"
#include "reservoir/gfp.h"

namespace reservoir::injectors::testing {

inline FaultCall PageCall(int order, Gfp gfp = kGfpAtomic,
                          const char* call_site = "alloc_pages") {
  FaultCall call;
  call.site = FaultSite::kPageAlloc;
  call.order = order;
  call.gfp = gfp;
  call.call_site = call_site;
  return call;
}

inline FaultCall SlabObjectCall(const char* cache, uint64_t size,
                                Gfp gfp = kGfpAtomic,
                                const char* call_site = "kmalloc") {
  FaultCall call;
  call.site = FaultSite::kSlabObject;
  call.cache = cache;
  call.size = size;
  call.gfp = gfp;
  call.call_site = call_site;
  return call;
}

inline FaultCall NewSlabCall(const char* cache, int order, Gfp gfp = kGfpAtomic,
                             const char* call_site = "kmalloc") {
  FaultCall call;
  call.site = FaultSite::kSlabNewSlab;
  call.cache = cache;
  call.order = order;
  call.gfp = gfp;
  call.call_site = call_site;
  return call;
}

inline FaultCall ChargeCall(const char* reserve, uint64_t amount,
                            const char* call_site = "kmalloc_reserve") {
  FaultCall call;
  call.site = FaultSite::kReserveCharge;
  call.reserve = reserve;
  call.size = amount;
  call.call_site = call_site;
  return call;
}

inline FaultCall ReserveSetCall(
    const char* reserve, uint64_t size,
    const char* call_site = "mem_reserve_kmalloc_set") {
  FaultCall call;
  call.site = FaultSite::kReserveSet;
  call.reserve = reserve;
  call.size = size;
  call.call_site = call_site;
  return call;
}

}  // namespace reservoir::injectors::testing
