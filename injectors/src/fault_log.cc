#include "reservoir/injectors/fault_log.h"

#include <cinttypes>
#include <cstring>

#include "reservoir/injectors/site_config.h"

namespace reservoir::injectors {
namespace {

void CopyName(char (&to)[kFaultLogNameSize], const char* from) {
  if (from == nullptr) {
    to[0] = '\0';
    return;
  }
  std::strncpy(to, from, kFaultLogNameSize - 1);
  to[kFaultLogNameSize - 1] = '\0';
}

const char* OrDash(const char* name) { return name[0] == '\0' ? "-" : name; }

}  // namespace

void PrintFaultLogEntry(FILE* out, const FaultLogEntry& entry) {
  std::fprintf(out,
               "%s call %" PRIu64 " (context call %" PRIu64
               ", %s): order=%d"
               " size=%" PRIu64 " gfp=%#x cache=%s reserve=%s call_site=%s",
               SiteConfigName(entry.site), entry.site_call, entry.context_call,
               FaultCauseName(entry.cause), entry.order, entry.size,
               static_cast<unsigned>(entry.gfp), OrDash(entry.cache),
               OrDash(entry.reserve), OrDash(entry.call_site));
}

void FaultLog::Record(const FaultCall& call, FaultCause cause,
                      uint64_t site_call, uint64_t context_call) {
  FaultLogEntry& entry = ring_[recorded_ % kFaultLogCapacity];
  ++recorded_;
  entry.site = call.site;
  entry.cause = cause;
  entry.site_call = site_call;
  entry.context_call = context_call;
  entry.order = call.order;
  entry.size = call.size;
  entry.gfp = call.gfp;
  CopyName(entry.cache, call.cache);
  CopyName(entry.reserve, call.reserve);
  CopyName(entry.call_site, call.call_site);
}

const FaultLogEntry& FaultLog::entry(size_t index) const {
  const uint64_t oldest = recorded_ - size();
  return ring_[(oldest + index) % kFaultLogCapacity];
}

const FaultLogEntry* FaultLog::newest() const {
  return recorded_ == 0 ? nullptr : &ring_[(recorded_ - 1) % kFaultLogCapacity];
}

const FaultLogEntry* FaultLog::Find(FaultSite site, uint64_t site_call) const {
  for (size_t i = 0; i < size(); ++i) {
    const FaultLogEntry& candidate = entry(i);
    if (candidate.site == site && candidate.site_call == site_call)
      return &candidate;
  }
  return nullptr;
}

}  // namespace reservoir::injectors
