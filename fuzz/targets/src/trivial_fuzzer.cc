// The yardstick for throughput: a target that does almost nothing, built
// with the same engine, sanitizers and coverage instrumentation as the real
// ones. bench/fuzz_throughput.py reports each target's exec/s as a fraction
// of this one's.
#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  volatile uint32_t sum = 0;
  for (size_t i = 0; i < size && i < 8; ++i) sum = sum + data[i];
  return 0;
}
