// The closed set of bugs the model can report. Every report starts with one
// stable, greppable line
//     RESERVOIR BUG: <class>: <detail>
// followed by the sections of every registered context provider (fault
// injection log, the program being run, ...), then aborts so that fuzzing
// engines see a crash. Expected failures (out of memory, limit reached)
// never come here: they return an error value.
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
  X(kPageConservation, "page-conservation")

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

// Prints the report and aborts. `format` is printf-style detail.
[[noreturn]] void ReportBug(BugClass bug_class, const char* format, ...)
    __attribute__((format(printf, 2, 3)));

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
// return normally; a test throws or longjmps from it). Null restores abort.
using ReportHandlerForTesting = void (*)(BugClass bug_class, const char* line);
void SetReportHandlerForTesting(ReportHandlerForTesting handler);

}  // namespace reservoir
