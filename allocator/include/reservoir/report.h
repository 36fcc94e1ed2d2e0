// The closed set of bugs the model can report. Every report starts with two
// stable, greppable lines
//     RESERVOIR BUG: <class>: <place>
//     RESERVOIR DETAIL: <detail>
// followed by the sections of every registered context provider (fault
// injection log, the program being run, ...) and the line
//     END OF RESERVOIR BUG REPORT
// then aborts so that fuzzing engines see a crash. Expected failures (out
// of memory, limit reached) never come here: they return an error value.
//
// <place> names the check that failed, never a number from the input:
// <component>.<check> in [a-z0-9_.-], optionally followed by /<path>, the
// allocator path that broke the invariant (slab.take_object/node-partial).
// Two checks never share a place, so class + place tell bugs apart; the
// numbers (pfns, sizes, CPUs, counts) go into <detail>. Crash triage keys
// crashes on it (triage/, docs/TRIAGE.md "Signature").
#pragma once

#include <cstdio>

namespace reservoir {

#define RESERVOIR_BUG_CLASSES(X)                                   \
  X(kReserveLeak, "reserve-leak")                                  \
  X(kSlabMixing, "slab-mixing")                                    \
  X(kAccountingImbalance, "accounting-imbalance")                  \
  X(kGuaranteeViolation, "guarantee-violation")                    \
  X(kWatermarkBreach, "watermark-breach")                          \
  X(kBuddyCorruption, "buddy-corruption")                          \
  X(kSlabCorruption, "slab-corruption")                            \
  X(kStalePfmemalloc, "stale-pfmemalloc")                          \
  X(kInvalidFree, "invalid-free")                                  \
  X(kDoubleFree, "double-free")                                    \
  X(kPageConservation, "page-conservation")                        \
  X(kAdapterContract, "adapter-contract")                          \
  X(kDivergence, "divergence")

enum class BugClass : int {
#define RESERVOIR_BUG_ENUM(id, name) id,
  RESERVOIR_BUG_CLASSES(RESERVOIR_BUG_ENUM)
#undef RESERVOIR_BUG_ENUM
      kCount,
};

inline constexpr int kBugClassCount = static_cast<int>(BugClass::kCount);

// The stable name printed after "RESERVOIR BUG: ".
const char* BugClassName(BugClass bug_class);

// Parses a stable name back; returns false for an unknown name.
bool ParseBugClass(const char* name, BugClass* out);

// True when `place` is a well-formed place: <component>.<check> (lower case
// letters, digits, '_', '-', at least one '.'), then optionally one
// '/<path>' of the same letters.
bool IsValidBugPlace(const char* place);

// Prints the report and aborts. `place` is the stable place of the check
// (see above; an invalid one is printed as "report.invalid_place"), `format` the
// printf-style detail.
[[noreturn]] void ReportBug(BugClass bug_class, const char* place,
                            const char* format, ...)
    __attribute__((format(printf, 3, 4)));

// A context provider prints one section of every report (after the first
// line). Providers are called in registration order; at most
// kMaxReportProviders may be registered at once. Registration is not
// thread-safe: the model has no threads.
using ReportProvider = void (*)(FILE* out, void* arg);
inline constexpr int kMaxReportProviders = 8;
// Returns false when the table is full.
bool RegisterReportProvider(ReportProvider provider, void* arg);
void UnregisterReportProvider(ReportProvider provider, void* arg);

// Test-only: instead of aborting, ReportBug calls `handler` (which must not
// return normally; a test throws or longjmps from it) with the class, the
// place and the report's first two lines
//     "RESERVOIR BUG: <class>: <place>\nRESERVOIR DETAIL: <detail>".
// Null restores abort.
using ReportHandlerForTesting = void (*)(BugClass bug_class, const char* place,
                                         const char* report);
void SetReportHandlerForTesting(ReportHandlerForTesting handler);

}  // namespace reservoir
