// The fault-injection section of every RESERVOIR BUG report: which calls
// were failed before the bug, and the configuration line that fails them
// again.
#include <cinttypes>
#include <cstdio>

#include "reservoir/injectors/fault_injector.h"

namespace reservoir::injectors {

void FaultInjector::PrintReportSection(FILE* out) const {
  if (log_.recorded() == 0) {
    std::fprintf(out, "fault injection: no failure injected since reset%s\n",
                 suspended() ? " (injection suspended)" : "");
  } else {
    std::fprintf(out,
                 "fault injection: %" PRIu64
                 " failure(s) injected since reset"
                 " (%" PRIu64 " oldest dropped from the log)%s\n",
                 log_.recorded(), log_.dropped(),
                 suspended() ? " (injection suspended)" : "");
    for (size_t i = 0; i < log_.size(); ++i) {
      std::fputs("  injected: ", out);
      PrintFaultLogEntry(out, log_.entry(i));
      std::fputc('\n', out);
    }
  }
  std::fprintf(out, "fault config: %s\n", ConfigLine().c_str());
}

void FaultInjector::ReportSectionThunk(FILE* out, void* self) {
  static_cast<const FaultInjector*>(self)->PrintReportSection(out);
}

}  // namespace reservoir::injectors
