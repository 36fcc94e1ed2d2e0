// The decoder's own fuzz target: any bytes must decode, re-encode to bytes
// that decode to the same program, print as text that parses back to the
// same program, and decode for every target profile.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "reservoir/program/decode.h"
#include "reservoir/program/encode.h"
#include "reservoir/program/text_format.h"
#include "reservoir/targets/target_profile.h"

namespace {

[[noreturn]] void Mismatch(const char* what) {
  std::fprintf(stderr, "program_fuzzer: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace reservoir::program;
  const Program program = Decode({data, size});
  const std::vector<uint8_t> canonical = Encode(program);
  if (!(Decode(canonical) == program)) Mismatch("Decode(Encode(p)) != p");
  if (Encode(Decode(canonical)) != canonical)
    Mismatch("canonical bytes do not re-encode to themselves");
  const std::string text = ToText(program);
  const ParseResult parsed = FromText(text);
  if (!parsed.ok()) Mismatch(("printed text does not parse: " +
                              parsed.error->ToString()).c_str());
  if (!(parsed.program == program)) Mismatch("FromText(ToText(p)) != p");
  for (const auto& target : reservoir::targets::AllTargets()) {
    const Program shaped = reservoir::targets::DecodeForTarget(target, {data, size});
    if (shaped.ops.size() > kMaxOps + 16) Mismatch("a target grew a program past its bound");
  }
  return 0;
}
