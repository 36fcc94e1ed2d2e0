// The determinism probe's recorder (probe_recorder.cc): the callbacks of
// -fsanitize=fuzzer-no-link's instrumentation and the sanitizer's weak
// hooks, which libFuzzer defines in a fuzzer, and the run of one input
// under them. probe_main.cc turns a recording into text and compares.
#ifndef RESERVOIR_TOOLS_PROBE_RECORDER_H_
#define RESERVOIR_TOOLS_PROBE_RECORDER_H_

#include <cstddef>
#include <cstdint>

namespace reservoir::probe {

struct Event {
  char kind;      // 'c' cmp, 's' switch, 'i' indirect call, 'm' memory compare
  uint8_t size;   // c, s: operand bytes
  uintptr_t pc;   // the caller
  uint64_t a, b;  // c: the operands; s: value, case count; i: callee;
                  // m: index into Recording::memory
};

// A compare of memory as libFuzzer's hooks keep it: up to 64 bytes of each
// side (its Word::kMaxSize); a needle (strstr, memmem) has no right side.
struct MemoryEvent {
  const char* hook;  // "memcmp", "strcmp", ...
  uint64_t n;        // the length compared
  uint8_t left_size, right_size;
  uint8_t left[64], right[64];
};

struct Recording {
  const uint8_t* counters;  // the 8-bit edge counters after the input
  const uintptr_t* pcs;     // the PC table: pcs[2 * i] is counter i's PC
  size_t ncounters;
  const Event* events;      // in the order they happened
  size_t nevents;
  const MemoryEvent* memory;
  bool overflow;            // more than 4M events: the rest are missing
  uintptr_t stack_depth;    // bytes below the frame that called the input
};

// Whether the program has coverage instrumentation to record.
bool Instrumented();

// Runs one input (LLVMFuzzerTestOneInput) under the recorder; the
// recording stays valid until the next call.
Recording RunRecorded(const uint8_t* data, size_t size);

}  // namespace reservoir::probe

#endif  // RESERVOIR_TOOLS_PROBE_RECORDER_H_
