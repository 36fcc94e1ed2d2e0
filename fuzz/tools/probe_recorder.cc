// The determinism probe's recorder (probe_recorder.h). Built without
// coverage instrumentation, and its callbacks call no C++ library code, so
// that recording adds nothing to what it records.
#include "probe_recorder.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace reservoir::probe {
namespace {

size_t Min(size_t a, size_t b) { return a < b ? a : b; }

uint8_t* g_counters = nullptr;
uint8_t* g_counters_end = nullptr;
const uintptr_t* g_pcs = nullptr;
bool g_recording = false;
bool g_in_hook = false;
bool g_overflow = false;

// A growing array of plain structs (malloc'd: no C++ library code runs
// inside a callback). At most 4M items; past that the record says so.
template <typename T>
struct Buffer {
  T* items = nullptr;
  size_t size = 0, capacity = 0;
  T* Add() {
    if (size == capacity) {
      const size_t grown = capacity == 0 ? 4096 : 2 * capacity;
      void* more = grown <= (size_t{1} << 22)
                       ? std::realloc(items, grown * sizeof(T))
                       : nullptr;
      if (more == nullptr) {
        g_overflow = true;
        return nullptr;
      }
      items = static_cast<T*>(more);
      capacity = grown;
    }
    return &items[size++];
  }
};
Buffer<Event> g_events;
Buffer<MemoryEvent> g_memory;

void RecordCmp(char kind, uintptr_t pc, uint8_t size, uint64_t a, uint64_t b) {
  if (!g_recording) return;
  Event* e = g_events.Add();
  if (e == nullptr) return;
  e->kind = kind;
  e->pc = pc;
  e->size = size;
  e->a = a;
  e->b = b;
}

// What libFuzzer's hooks keep of a compare of memory: up to 64 bytes of
// each side (its Word::kMaxSize); a needle (strstr, memmem) has no right
// side. The callers skip what libFuzzer skips (an equal compare).
void RecordMemory(const char* hook, void* pc, const void* s1, size_t n1,
                  const void* s2, size_t n2, size_t n) {
  if (!g_recording || g_in_hook || n <= 1) return;
  g_in_hook = true;
  Event* e = g_events.Add();
  MemoryEvent* m = e != nullptr ? g_memory.Add() : nullptr;
  if (m != nullptr) {
    e->kind = 'm';
    e->size = 0;
    e->pc = reinterpret_cast<uintptr_t>(pc);
    e->a = g_memory.size - 1;
    e->b = 0;
    m->hook = hook;
    m->n = n;
    m->left_size = static_cast<uint8_t>(Min(n1, 64));
    m->right_size = static_cast<uint8_t>(Min(n2, 64));
    std::memcpy(m->left, s1, m->left_size);
    if (s2 != nullptr) std::memcpy(m->right, s2, m->right_size);
  } else if (e != nullptr) {
    --g_events.size;
  }
  g_in_hook = false;
}

size_t BoundedLength(const char* s, size_t limit) {
  size_t n = 0;
  while (n < limit && s[n] != '\0') ++n;
  return n;
}

}  // namespace
}  // namespace reservoir::probe

using namespace reservoir::probe;  // the callbacks below

extern "C" {

thread_local uintptr_t __sancov_lowest_stack;

void __sanitizer_cov_8bit_counters_init(uint8_t* start, uint8_t* end) {
  if (g_counters == nullptr) {
    g_counters = start;
    g_counters_end = end;
  } else if (g_counters != start) {
    std::fprintf(stderr, "probe: a second instrumented module; only the "
                 "first is recorded\n");
  }
}

void __sanitizer_cov_pcs_init(const uintptr_t* start, const uintptr_t* end) {
  if (g_pcs == nullptr) g_pcs = start;
}

#define RESERVOIR_PROBE_CMP(name, type)                                       \
  void name(type a, type b) {                                                 \
    RecordCmp('c', reinterpret_cast<uintptr_t>(__builtin_return_address(0)), \
              sizeof(type), a, b);                                            \
  }
RESERVOIR_PROBE_CMP(__sanitizer_cov_trace_cmp1, uint8_t)
RESERVOIR_PROBE_CMP(__sanitizer_cov_trace_cmp2, uint16_t)
RESERVOIR_PROBE_CMP(__sanitizer_cov_trace_cmp4, uint32_t)
RESERVOIR_PROBE_CMP(__sanitizer_cov_trace_cmp8, uint64_t)
RESERVOIR_PROBE_CMP(__sanitizer_cov_trace_const_cmp1, uint8_t)
RESERVOIR_PROBE_CMP(__sanitizer_cov_trace_const_cmp2, uint16_t)
RESERVOIR_PROBE_CMP(__sanitizer_cov_trace_const_cmp4, uint32_t)
RESERVOIR_PROBE_CMP(__sanitizer_cov_trace_const_cmp8, uint64_t)
#undef RESERVOIR_PROBE_CMP

void __sanitizer_cov_trace_switch(uint64_t value, uint64_t* cases) {
  RecordCmp('s', reinterpret_cast<uintptr_t>(__builtin_return_address(0)),
            static_cast<uint8_t>(cases[1] / 8), value, cases[0]);
}
void __sanitizer_cov_trace_div4(uint32_t) {}
void __sanitizer_cov_trace_div8(uint64_t) {}
void __sanitizer_cov_trace_gep(uintptr_t) {}
void __sanitizer_cov_trace_pc_indir(uintptr_t callee) {
  RecordCmp('i', reinterpret_cast<uintptr_t>(__builtin_return_address(0)),
            sizeof(callee), callee, 0);
}

void __sanitizer_weak_hook_memcmp(void* pc, const void* s1, const void* s2,
                                  size_t n, int result) {
  if (result != 0) RecordMemory("memcmp", pc, s1, n, s2, n, n);
}
void __sanitizer_weak_hook_strncmp(void* pc, const char* s1, const char* s2,
                                   size_t n, int result) {
  if (result == 0) return;
  const size_t n1 = Min(n, BoundedLength(s1, n) + 1);
  const size_t n2 = Min(n, BoundedLength(s2, n) + 1);
  RecordMemory("strncmp", pc, s1, n1, s2, n2, Min(n1, n2));
}
void __sanitizer_weak_hook_strncasecmp(void* pc, const char* s1,
                                       const char* s2, size_t n, int result) {
  if (result == 0) return;
  const size_t n1 = Min(n, BoundedLength(s1, n) + 1);
  const size_t n2 = Min(n, BoundedLength(s2, n) + 1);
  RecordMemory("strncasecmp", pc, s1, n1, s2, n2, Min(n1, n2));
}
void __sanitizer_weak_hook_strcmp(void* pc, const char* s1, const char* s2,
                                  int result) {
  if (result == 0) return;
  const size_t n1 = BoundedLength(s1, 64) + 1, n2 = BoundedLength(s2, 64) + 1;
  RecordMemory("strcmp", pc, s1, n1, s2, n2, Min(n1, n2));
}
void __sanitizer_weak_hook_strcasecmp(void* pc, const char* s1, const char* s2,
                                      int result) {
  if (result == 0) return;
  const size_t n1 = BoundedLength(s1, 64) + 1, n2 = BoundedLength(s2, 64) + 1;
  RecordMemory("strcasecmp", pc, s1, n1, s2, n2, Min(n1, n2));
}
void __sanitizer_weak_hook_strstr(void* pc, const char*, const char* s2,
                                  char*) {
  const size_t n = BoundedLength(s2, 64);
  RecordMemory("strstr", pc, s2, n, nullptr, 0, n);
}
void __sanitizer_weak_hook_strcasestr(void* pc, const char*, const char* s2,
                                      char*) {
  const size_t n = BoundedLength(s2, 64);
  RecordMemory("strcasestr", pc, s2, n, nullptr, 0, n);
}
void __sanitizer_weak_hook_memmem(void* pc, const void*, size_t,
                                  const void* s2, size_t len2, void*) {
  RecordMemory("memmem", pc, s2, len2, nullptr, 0, len2);
}

}  // extern "C"

namespace reservoir::probe {

bool Instrumented() { return g_counters != nullptr && g_pcs != nullptr; }

Recording RunRecorded(const uint8_t* data, size_t size) {
  static uint8_t* copy = nullptr;
  const size_t ncounters = static_cast<size_t>(g_counters_end - g_counters);
  if (copy == nullptr) {
    copy = static_cast<uint8_t*>(std::malloc(ncounters ? ncounters : 1));
    if (copy == nullptr) std::abort();
  }
  std::memset(g_counters, 0, ncounters);
  g_events.size = 0;
  g_memory.size = 0;
  g_overflow = false;
  const uintptr_t frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  __sancov_lowest_stack = frame;
  g_recording = true;
  LLVMFuzzerTestOneInput(data, size);
  g_recording = false;
  const uintptr_t lowest = __sancov_lowest_stack;
  std::memcpy(copy, g_counters, ncounters);
  Recording r;
  r.counters = copy;
  r.pcs = g_pcs;
  r.ncounters = ncounters;
  r.events = g_events.items;
  r.nevents = g_events.size;
  r.memory = g_memory.items;
  r.overflow = g_overflow;
  r.stack_depth = lowest < frame ? frame - lowest : 0;
  return r;
}

}  // namespace reservoir::probe
