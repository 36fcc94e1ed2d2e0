// reservoir-replay: runs fuzz inputs or text programs without an engine.
//   reservoir-replay [--target NAME] [--print] [--trace] PATH...
// A PATH is a file (a binary input, or a text program starting with
// "# reservoir program v1") or a directory (its regular files, by name).
// Exits 0 when everything ran clean; a finding prints its RESERVOIR BUG (or
// sanitizer) report and aborts; bad arguments or unreadable files exit 2.
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "reservoir/exec/executor.h"
#include "reservoir/plant.h"
#include "reservoir/program/text_format.h"
#include "reservoir/targets/target_profile.h"
#include "reservoir/tools/cli.h"

namespace {

namespace fs = std::filesystem;
using reservoir::targets::TargetProfile;

constexpr const char* kProg = "reservoir-replay";

[[noreturn]] void Fail(const std::string& message) {
  reservoir::tools::Fail(kProg, message);
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

  // Expand directories, and check every file exists before running.
  const std::vector<fs::path> files = reservoir::tools::ExpandPaths(
      kProg, paths, reservoir::tools::DirectoryWalk::kTopLevel);

  reservoir::exec::Executor executor;
  reservoir::exec::ExecOptions options;
  if (trace) options.trace = stdout;
  size_t ran = 0;
  for (const fs::path& file : files) {
    const std::optional<reservoir::program::Program> loaded =
        reservoir::tools::LoadProgram(kProg, file, target);
    if (!loaded) {
      Fail(file.string() + ": a binary input needs --target (see --list-targets)");
    }
    const reservoir::program::Program& program = *loaded;
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
