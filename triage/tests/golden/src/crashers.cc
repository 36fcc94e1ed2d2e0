// Tiny libFuzzer target whose first input byte picks a crash, so that
// make_golden.py can record real sanitizer and libFuzzer output for the
// triage parser's golden tests. Built with the project's sanitizer flags
// (-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined);
// not part of the project build.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace golden {

__attribute__((noinline)) int HeapOverflow(const uint8_t* data, size_t size) {
  char* buffer = new char[8];
  std::memset(buffer, 0, 8);
  const int value = buffer[8 + (size > 100 ? 1 : 0)];  // one past the end
  delete[] buffer;
  return value + data[0];
}

__attribute__((noinline)) int UseAfterFree(const uint8_t* data) {
  int* cell = new int(data[0]);
  delete cell;
  return *cell;
}

__attribute__((noinline)) void DoubleFree(const uint8_t* data) {
  char* volatile block = static_cast<char*>(std::malloc(16 + data[0] % 2));
  std::free(block);
  std::free(block);
}

__attribute__((noinline)) int SignedOverflow(const uint8_t* data) {
  volatile int big = 0x7fffffff - (data[0] == 'u' ? 0 : 1);
  return big + 1 + (data[0] == 'u' ? 0 : 1);
}

__attribute__((noinline)) void Leak(const uint8_t* data) {
  static void* volatile sink;
  sink = std::malloc(64 + data[0] % 3);
  sink = nullptr;
}

__attribute__((noinline)) void Spin(const uint8_t* data) {
  volatile uint64_t counter = data[0];
  for (;;) counter = counter + 1;
}

__attribute__((noinline)) void Exhaust(const uint8_t* data) {
  static volatile char* keep[1 << 16];
  for (size_t i = 0; i < (1 << 16); ++i) {
    keep[i] = static_cast<char*>(std::malloc(1 << 20));
    std::memset(const_cast<char*>(keep[i]), data[0], 1 << 20);
  }
}

__attribute__((noinline)) int NullRead(const uint8_t* data) {
  volatile int* nothing = reinterpret_cast<int*>(data[0] == 'n' ? 0 : 0);
  return *nothing;
}

__attribute__((noinline)) void Abort(const uint8_t*) { std::abort(); }

__attribute__((noinline)) int Recurse(const uint8_t* data, int depth) {
  volatile char frame[256];
  frame[0] = static_cast<char>(depth);
  return Recurse(data, depth + 1) + frame[0];
}

}  // namespace golden

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  switch (data[0]) {
    case 'h': return golden::HeapOverflow(data, size) == 1234 ? 1 : 0;
    case 'f': return golden::UseAfterFree(data) == 1234 ? 1 : 0;
    case 'd': golden::DoubleFree(data); return 0;
    case 'u': return golden::SignedOverflow(data) == 3 ? 1 : 0;
    case 'l': golden::Leak(data); return 0;
    case 't': golden::Spin(data); return 0;
    case 'o': golden::Exhaust(data); return 0;
    case 'n': return golden::NullRead(data);
    case 'a': golden::Abort(data); return 0;
    case 's': return golden::Recurse(data, 0);
  }
  return 0;
}
