// The record of injected failures, so an oracle can tell an injected
// failure from a real one and a report can say which calls were failed.
// A fixed ring: the newest kFaultLogCapacity entries are kept, older ones
// are dropped and counted, and recording never allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "reservoir/fault_site.h"
#include "reservoir/gfp.h"
#include "reservoir/injectors/fault_attr.h"

namespace reservoir::injectors {

inline constexpr size_t kFaultLogCapacity = 64;
inline constexpr size_t kFaultLogNameSize = 32;  // longer names are cut

struct FaultLogEntry {
  FaultSite site = FaultSite::kPageAlloc;
  FaultCause cause = FaultCause::kNone;
  uint64_t site_call = 0;     // eligible-call number at this site, from 1
  uint64_t context_call = 0;  // eligible-call number over all sites (fail-nth)
  int order = 0;
  uint64_t size = 0;
  Gfp gfp = 0;
  char cache[kFaultLogNameSize] = {};
  char reserve[kFaultLogNameSize] = {};
  char call_site[kFaultLogNameSize] = {};
};

// "failslab call 3 (context call 7, random): order=0 size=96 gfp=0x4
//  cache=kmalloc-96 reserve=- call_site=kmalloc" (one line, no newline).
void PrintFaultLogEntry(FILE* out, const FaultLogEntry& entry);

class FaultLog {
 public:
  void Record(const FaultCall& call, FaultCause cause, uint64_t site_call,
              uint64_t context_call);
  void Clear() { recorded_ = 0; }

  // Entries held, oldest first: entry(0) .. entry(size() - 1).
  size_t size() const {
    return recorded_ < kFaultLogCapacity ? static_cast<size_t>(recorded_)
                                         : kFaultLogCapacity;
  }
  const FaultLogEntry& entry(size_t index) const;
  // Null when empty.
  const FaultLogEntry* newest() const;
  // Failures recorded since Clear(), held or dropped.
  uint64_t recorded() const { return recorded_; }
  uint64_t dropped() const { return recorded_ - size(); }
  // The held entry for that site's eligible call, or null.
  const FaultLogEntry* Find(FaultSite site, uint64_t site_call) const;

 private:
  std::array<FaultLogEntry, kFaultLogCapacity> ring_{};
  uint64_t recorded_ = 0;
};

}  // namespace reservoir::injectors
