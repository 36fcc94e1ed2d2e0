// reservoir-seed: compiles seed programs written in the text form into the
// binary inputs of one fuzz target.
//   reservoir-seed --target NAME --out DIR [--replace] [--full] SEED.txt...
// A seed holds the program body: the target adds its own prologue when it
// decodes the input. With --full, each file is a full program (the
// target's prologue written out, as in corpus/<target>/regression/): the
// prologue is taken off and the result must decode back to exactly that
// program, header included. Each output is DIR/<seed name without .txt>,
// written atomically; an existing different file is kept unless --replace
// is given.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "reservoir/program/text_format.h"
#include "reservoir/targets/target_profile.h"
#include "reservoir/tools/cli.h"

namespace {

namespace fs = std::filesystem;
constexpr const char* kProg = "reservoir-seed";

[[noreturn]] void Fail(const std::string& message) {
  reservoir::tools::Fail(kProg, message);
}

bool ReadAll(const fs::path& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), {});
  return !in.bad();
}

// Writes next to the destination, then renames: readers never see half.
void WriteAtomically(const fs::path& path, const std::vector<uint8_t>& bytes) {
  const fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) Fail("cannot write '" + temporary.string() + "'");
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) Fail("cannot write '" + temporary.string() + "'");
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) Fail("cannot rename to '" + path.string() + "': " + ec.message());
}

// A full program (prologue written out) -> the input that decodes back to
// exactly it: the target's prologue for this header is taken off the front
// and the rest encoded as the body. Fails when the program does not start
// with that prologue or the target would run something else (a header
// field it forces, a kind it cannot express).
bool EncodeFull(const reservoir::targets::TargetProfile& target,
                const reservoir::program::Program& program,
                std::vector<uint8_t>* out, std::string* error) {
  reservoir::program::Program empty;
  empty.header = program.header;
  std::vector<uint8_t> header_only;
  if (!reservoir::targets::EncodeForTarget(target, empty, &header_only, error))
    return false;
  const auto prologue = reservoir::targets::DecodeForTarget(target, header_only).ops;
  if (program.ops.size() < prologue.size() ||
      !std::equal(prologue.begin(), prologue.end(), program.ops.begin())) {
    *error = std::string("does not start with the prologue of target ") + target.name;
    return false;
  }
  reservoir::program::Program body;
  body.header = program.header;
  body.ops.assign(program.ops.begin() + static_cast<std::ptrdiff_t>(prologue.size()),
                  program.ops.end());
  if (!reservoir::targets::EncodeForTarget(target, body, out, error)) return false;
  if (!(reservoir::targets::DecodeForTarget(target, *out) == program)) {
    *error = std::string("target ") + target.name +
             " would not run this program as written (it forces a header field)";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const reservoir::targets::TargetProfile* target = nullptr;
  fs::path out_dir;
  bool replace = false;
  bool full = false;
  std::vector<fs::path> seeds;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::printf("Usage: %s --target NAME --out DIR [--replace] [--full] SEED.txt...\n\n"
                  "Compiles text-form seed programs (bodies, without the "
                  "target's prologue)\ninto binary inputs of fuzz target NAME.\n"
                  "With --full the programs are full ones (the target's prologue "
                  "written out,\nas regression entries are); each must decode "
                  "back to exactly itself.\n",
                  kProg);
      return 0;
    } else if (arg == "--target") {
      if (i + 1 >= argc) Fail("--target needs a name");
      target = reservoir::targets::FindTarget(argv[++i]);
      if (target == nullptr) Fail(std::string("unknown target '") + argv[i] + "'");
    } else if (arg == "--out") {
      if (i + 1 >= argc) Fail("--out needs a directory");
      out_dir = argv[++i];
    } else if (arg == "--replace") {
      replace = true;
    } else if (arg == "--full") {
      full = true;
    } else if (!arg.empty() && arg[0] == '-') {
      Fail("unknown option '" + arg + "' (see --help)");
    } else {
      seeds.emplace_back(arg);
    }
  }
  if (target == nullptr) Fail("--target is required");
  if (out_dir.empty()) Fail("--out is required");
  if (seeds.empty()) Fail("no seed given");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) Fail("cannot create '" + out_dir.string() + "': " + ec.message());

  for (const fs::path& seed : seeds) {
    std::string text;
    if (!ReadAll(seed, &text)) Fail("cannot read '" + seed.string() + "'");
    const auto parsed = reservoir::program::FromText(text);
    if (!parsed.ok()) Fail(seed.string() + ": " + parsed.error->ToString());
    std::vector<uint8_t> bytes;
    std::string error;
    if (full) {
      if (!EncodeFull(*target, parsed.program, &bytes, &error))
        Fail(seed.string() + ": " + error);
    } else {
      if (!reservoir::targets::EncodeForTarget(*target, parsed.program, &bytes, &error))
        Fail(seed.string() + ": " + error);
      // The input must decode back to the seed's body: every operation of
      // the body, unchanged and in order, in the program the target runs
      // (after its prologue; the estimator target moves its cache set-up
      // before the pressure, so the body need not be one block), and that
      // program must be exactly the target's shaping of the body.
      const auto decoded = reservoir::targets::DecodeForTarget(*target, bytes);
      reservoir::program::Program shaped = parsed.program;
      if (target->shape != nullptr) target->shape(bytes, &shaped);
      size_t matched = 0;
      for (const auto& op : decoded.ops) {
        if (matched < parsed.program.ops.size() && op == parsed.program.ops[matched]) {
          ++matched;
        }
      }
      if (!(decoded == shaped) || matched != parsed.program.ops.size()) {
        Fail(seed.string() + ": does not round-trip through target " + target->name);
      }
    }
    const fs::path output = out_dir / seed.stem();
    std::string existing;
    if (fs::exists(output) && !replace && ReadAll(output, &existing) &&
        existing != std::string(bytes.begin(), bytes.end())) {
      Fail("'" + output.string() + "' exists and differs (use --replace)");
    }
    WriteAtomically(output, bytes);
  }
  return 0;
}
