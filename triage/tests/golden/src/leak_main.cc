// A plain program (no fuzzing engine) that leaks, for LeakSanitizer's
// own report in the triage golden tests. Built with -fsanitize=address.
#include <cstdlib>

namespace golden {
__attribute__((noinline)) void* Keep(int n) { return std::malloc(32 + n); }
__attribute__((noinline)) void Lose(int n) {
  static void* volatile sink;
  sink = Keep(n);
  sink = nullptr;
}
}  // namespace golden

int main(int argc, char**) {
  golden::Lose(argc);
  return 0;
}
