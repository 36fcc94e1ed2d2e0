// ReportBug and the report context providers.
#include "reservoir/report.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace reservoir {
namespace {

struct ProviderSlot {
  ReportProvider provider = nullptr;
  void* arg = nullptr;
};

ProviderSlot g_providers[kMaxReportProviders];
ReportHandlerForTesting g_test_handler = nullptr;
bool g_reporting = false;  // a provider that itself reports must not recurse

const char* const kBugClassNames[] = {
#define RESERVOIR_BUG_NAME(id, name) name,
    RESERVOIR_BUG_CLASSES(RESERVOIR_BUG_NAME)
#undef RESERVOIR_BUG_NAME
};

}  // namespace

const char* BugClassName(BugClass bug_class) {
  int index = static_cast<int>(bug_class);
  if (index < 0 || index >= kBugClassCount) return "unknown";
  return kBugClassNames[index];
}

bool ParseBugClass(const char* name, BugClass* out) {
  for (int i = 0; i < kBugClassCount; ++i) {
    if (std::strcmp(name, kBugClassNames[i]) == 0) {
      *out = static_cast<BugClass>(i);
      return true;
    }
  }
  return false;
}

bool IsValidBugPlace(const char* place) {
  if (place == nullptr || *place == '\0') return false;
  bool dot = false;
  bool slash = false;
  size_t segment = 0;  // characters since the start or the last '.' or '/'
  for (const char* p = place; *p != '\0'; ++p) {
    const char ch = *p;
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
        ch == '-') {
      ++segment;
    } else if (ch == '.' && !slash) {
      if (segment == 0) return false;
      dot = true;
      segment = 0;
    } else if (ch == '/' && !slash && dot) {
      if (segment == 0) return false;
      slash = true;
      segment = 0;
    } else if (ch == '.' && slash) {
      ++segment;
    } else {
      return false;
    }
  }
  return dot && segment != 0;
}

void ReportBug(BugClass bug_class, const char* place, const char* format,
               ...) {
  char detail[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(detail, sizeof(detail), format, args);
  va_end(args);
  if (!IsValidBugPlace(place)) place = "report.invalid_place";
  char head[800];
  std::snprintf(head, sizeof(head), "RESERVOIR BUG: %s: %s\nRESERVOIR DETAIL: %s",
                BugClassName(bug_class), place, detail);

  if (g_test_handler != nullptr) g_test_handler(bug_class, place, head);

  std::fflush(stdout);
  std::fprintf(stderr, "%s\n", head);
  if (!g_reporting) {
    g_reporting = true;
    for (const ProviderSlot& slot : g_providers) {
      if (slot.provider != nullptr) slot.provider(stderr, slot.arg);
    }
  }
  std::fprintf(stderr, "END OF RESERVOIR BUG REPORT\n");
  std::fflush(stderr);
  std::abort();
}

bool RegisterReportProvider(ReportProvider provider, void* arg) {
  for (ProviderSlot& slot : g_providers) {
    if (slot.provider == nullptr) {
      slot.provider = provider;
      slot.arg = arg;
      return true;
    }
  }
  return false;
}

void UnregisterReportProvider(ReportProvider provider, void* arg) {
  for (ProviderSlot& slot : g_providers) {
    if (slot.provider == provider && slot.arg == arg) slot = ProviderSlot{};
  }
}

void SetReportHandlerForTesting(ReportHandlerForTesting handler) {
  g_test_handler = handler;
}

}  // namespace reservoir
