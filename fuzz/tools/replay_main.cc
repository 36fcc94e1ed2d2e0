// reservoir-replay: runs fuzz inputs or text programs without an engine.
//   reservoir-replay [--target NAME] [--print] [--trace] PATH...
// A PATH is a file (a binary input, or a text program starting with
// "# reservoir program v1") or a directory (its regular files, by name).
// Exits 0 when everything ran clean; a finding prints its RESERVOIR BUG (or
// sanitizer) report and aborts; bad arguments or unreadable files exit 2.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "reservoir/exec/executor.h"
#include "reservoir/plant.h"
#include "reservoir/program/text_format.h"
#include "reservoir/targets/target_profile.h"

namespace {

namespace fs = std::filesystem;
using reservoir::targets::TargetProfile;

constexpr const char* kProg = "reservoir-replay";

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kProg, message.c_str());
  std::exit(2);
}

void Usage(FILE* out) {
  std::fprintf(out,
      "Usage: %s [--target NAME] [--print] [--trace] PATH...\n\n"
      "Runs fuzz inputs or text programs through the executor and its oracle,\n"
      "without a fuzzing engine. A PATH is a file (binary input, or a text\n"
      "program starting with '# reservoir program v1') or a directory (its\n"
      "files in name order).\n\n"
      "  --target NAME  decode binary inputs as this target (default: the\n"
      "                 target named by a directory in the path)\n"
      "  --print        print each decoded program in text form\n"
      "  --trace        print each operation and its result, then the zones'\n"
      "                 free pages, watermarks and strict reserve and the\n"
      "                 reserve nodes (lines starting \"   @\")\n"
      "  --list-targets print the targets and exit\n"
      "  --version      print which planted bugs this build carries (none,\n"
      "                 compiled:<id>, or runtime: RESERVOIR_PLANT=<id>\n"
      "                 selects one) and exit\n\n"
      "Exit status: 0 clean; a finding aborts with its report; 2 bad usage.\n",
      kProg);
}

bool ReadFile(const fs::path& path, std::vector<uint8_t>* out,
              std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read '" + path.string() + "': " + std::strerror(errno);
    return false;
  }
  out->assign(std::istreambuf_iterator<char>(in), {});
  if (in.bad()) {
    *error = "cannot read '" + path.string() + "'";
    return false;
  }
  return true;
}

const TargetProfile* TargetFromPath(const fs::path& path) {
  for (const fs::path& part : fs::absolute(path)) {
    if (const TargetProfile* t = reservoir::targets::FindTarget(part.string()))
      return t;
  }
  return nullptr;
}

bool IsText(const std::vector<uint8_t>& bytes) {
  const std::string_view first = reservoir::program::kTextFormatFirstLine;
  return bytes.size() >= first.size() &&
         std::equal(first.begin(), first.end(), bytes.begin());
}

}  // namespace

int main(int argc, char** argv) {
  const TargetProfile* target = nullptr;
  bool print = false;
  bool trace = false;
  std::vector<fs::path> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      Usage(stdout);
      return 0;
    } else if (arg == "--version") {
      // "plants: none" on the default build (ctest plants_absent_by_default).
      const reservoir::PlantId active = reservoir::ActivePlant();
      std::printf("%s (plants: %s, active: %s)\n", kProg,
                  reservoir::PlantBuildMode(),
                  reservoir::kPlantNames[static_cast<int>(active)]);
      return 0;
    } else if (arg == "--list-targets") {
      for (const TargetProfile& t : reservoir::targets::AllTargets())
        std::printf("%-22s %s\n", t.name, t.summary);
      return 0;
    } else if (arg == "--print") {
      print = true;
    } else if (arg == "--trace") {
      trace = true;
    } else if (arg == "--target" || arg.rfind("--target=", 0) == 0) {
      std::string name;
      if (arg == "--target") {
        if (i + 1 >= argc) Fail("--target needs a name (see --list-targets)");
        name = argv[++i];
      } else {
        name = arg.substr(9);
      }
      target = reservoir::targets::FindTarget(name);
      if (target == nullptr) Fail("unknown target '" + name + "' (see --list-targets)");
    } else if (!arg.empty() && arg[0] == '-') {
      Fail("unknown option '" + arg + "' (see --help)");
    } else {
      paths.emplace_back(arg);
    }
  }
  if (paths.empty()) Fail("no input given (see --help)");

  // Expand directories, and check every file is readable before running.
  std::vector<fs::path> files;
  for (const fs::path& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> entries;
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        if (entry.is_regular_file()) entries.push_back(entry.path());
      }
      if (ec) Fail("cannot list '" + path.string() + "': " + ec.message());
      std::sort(entries.begin(), entries.end());
      files.insert(files.end(), entries.begin(), entries.end());
    } else if (fs::exists(path, ec)) {
      files.push_back(path);
    } else {
      Fail("cannot read '" + path.string() + "': No such file or directory");
    }
  }

  reservoir::exec::Executor executor;
  reservoir::exec::ExecOptions options;
  if (trace) options.trace = stdout;
  size_t ran = 0;
  for (const fs::path& file : files) {
    std::vector<uint8_t> bytes;
    std::string error;
    if (!ReadFile(file, &bytes, &error)) Fail(error);
    reservoir::program::Program program;
    if (IsText(bytes)) {
      const auto parsed = reservoir::program::FromText(
          std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
      if (!parsed.ok()) Fail(file.string() + ": " + parsed.error->ToString());
      program = parsed.program;
    } else {
      const TargetProfile* t = target != nullptr ? target : TargetFromPath(file);
      if (t == nullptr) {
        Fail(file.string() + ": a binary input needs --target (see --list-targets)");
      }
      program = reservoir::targets::DecodeForTarget(*t, bytes);
    }
    std::printf("== %s (%zu operations)\n", file.string().c_str(), program.ops.size());
    if (print) std::fputs(reservoir::program::ToText(program).c_str(), stdout);
    std::fflush(stdout);
    const reservoir::exec::ExecStats stats = executor.Run(program, options);
    std::printf("   ok: %llu ops, %llu no-ops, %llu failed allocations, %llu "
                "emergency, %llu injected\n",
                static_cast<unsigned long long>(stats.ops),
                static_cast<unsigned long long>(stats.noops),
                static_cast<unsigned long long>(stats.alloc_failures),
                static_cast<unsigned long long>(stats.emergencies),
                static_cast<unsigned long long>(stats.injected));
    ++ran;
  }
  std::printf("%zu inputs ran clean\n", ran);
  return 0;
}
