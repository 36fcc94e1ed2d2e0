// reservoir-adapter-compare: runs each program through the direct path
// (ReservoirModel) and through the adapter path with the reference adapter
// (the model's own reserve tree behind the C table), and compares what
// they did: every traced operation, its outcome, the zones' levels and
// every reserve node after it, the statistics, and the finding (class and
// place) if there is one.
//   reservoir-adapter-compare [--target NAME] [--random N] [--seed S]
//                             [--json FILE] [PATH...]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "reservoir/adapter/adapter_model.h"
#include "reservoir/exec/executor.h"
#include "reservoir/program/header.h"
#include "reservoir/report.h"
#include "reservoir/targets/target_profile.h"
#include "reservoir/tools/cli.h"

namespace {

namespace fs = std::filesystem;
using reservoir::targets::TargetProfile;

constexpr const char* kProg = "reservoir-adapter-compare";

[[noreturn]] void Fail(const std::string& message) {
  reservoir::tools::Fail(kProg, message);
}

void Usage(FILE* out) {
  std::fprintf(out,
      "Usage: %s [--target NAME] [--random N] [--seed S] [--json FILE] [PATH...]\n\n"
      "Runs each program twice, through the model directly and through the\n"
      "adapter path with the reference adapter (the model's own reserve tree\n"
      "behind the C interface of reservoir/adapter.h), and compares the two\n"
      "runs: every operation's outcome, the zones and reserve nodes after it,\n"
      "the statistics and the finding (class and place).\n\n"
      "  PATH         a text program, a binary input (its target from --target\n"
      "               or a directory of the path) or a directory of them\n"
      "  --target NAME  decode binary inputs (and --random ones) as this target\n"
      "  --random N   also compare N random inputs of --target (or of every\n"
      "               target), drawn from --seed (default 1)\n"
      "  --json FILE  write {\"compared\":..,\"same\":..,\"findings\":..,\n"
      "               \"differ\":[..]} to FILE (temp file + rename)\n\n"
      "Exit status: 0 all runs alike; 1 some differ; 2 bad usage.\n",
      kProg);
}

struct Finding {
  std::string signature;  // "<class>: <place>"
};

void ThrowFinding(reservoir::BugClass bug_class, const char* place,
                  const char*) {
  throw Finding{std::string(reservoir::BugClassName(bug_class)) + ": " + place};
}

struct Run {
  std::string trace;
  std::string finding;  // empty: clean
};

std::string StatsLine(const reservoir::exec::ExecStats& s) {
  char line[160];
  std::snprintf(line, sizeof(line), "stats ops=%llu noops=%llu failures=%llu "
                "emergencies=%llu injected=%llu\n",
                static_cast<unsigned long long>(s.ops),
                static_cast<unsigned long long>(s.noops),
                static_cast<unsigned long long>(s.alloc_failures),
                static_cast<unsigned long long>(s.emergencies),
                static_cast<unsigned long long>(s.injected));
  return line;
}

uint32_t Capacity() {
  namespace p = reservoir::program;
  return *std::max_element(std::begin(p::kNormalPagesTable),
                           std::end(p::kNormalPagesTable)) +
         *std::max_element(std::begin(p::kHighmemPagesTable),
                           std::end(p::kHighmemPagesTable));
}

// Runs `program` on the direct path (adapter == false) or the adapter
// path. A finding unwinds the run; the executor and model are then built
// afresh for the next program.
class Runner {
 public:
  Run Go(const reservoir::program::Program& program, bool adapter) {
    Run run;
    char* buffer = nullptr;
    size_t size = 0;
    FILE* trace = open_memstream(&buffer, &size);
    if (trace == nullptr) Fail("open_memstream failed");
    reservoir::exec::ExecOptions options;
    options.trace = trace;
    try {
      if (executor_ == nullptr) executor_ = std::make_unique<reservoir::exec::Executor>();
      const reservoir::ModelConfig config =
          reservoir::program::ToModelConfig(program.header);
      reservoir::exec::ExecStats stats;
      if (adapter) {
        if (model_ == nullptr) {
          model_ = std::make_unique<reservoir::adapter::AdapterModel>(
              config, Capacity(), reservoir::adapter::ReferenceAdapter());
        } else {
          model_->ResetInto(config);
        }
        stats = executor_->RunOn(*model_, program, options);
      } else {
        stats = executor_->Run(program, options);
      }
      std::fflush(trace);
      std::fputs(StatsLine(stats).c_str(), trace);
    } catch (const Finding& finding) {
      run.finding = finding.signature;
      executor_.reset();
      model_.reset();
    }
    std::fclose(trace);
    run.trace.assign(buffer, size);
    std::free(buffer);
    return run;
  }

 private:
  std::unique_ptr<reservoir::exec::Executor> executor_;
  std::unique_ptr<reservoir::adapter::AdapterModel> model_;
};

// The first line where two traces differ (1-based), 0 when equal.
size_t FirstDifference(const std::string& a, const std::string& b,
                       std::string* line_a, std::string* line_b) {
  size_t line = 1, i = 0;
  while (i < a.size() || i < b.size()) {
    const size_t end_a = std::min(a.find('\n', i), a.size());
    const size_t end_b = std::min(b.find('\n', i), b.size());
    const std::string la = i < a.size() ? a.substr(i, end_a - i) : "<end>";
    const std::string lb = i < b.size() ? b.substr(i, end_b - i) : "<end>";
    if (la != lb) {
      *line_a = la;
      *line_b = lb;
      return line;
    }
    i = end_a + 1;
    ++line;
  }
  return 0;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
    else out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  const TargetProfile* target = nullptr;
  long random = 0;
  unsigned long seed = 1;
  std::string json;
  std::vector<fs::path> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) Fail(std::string(name) + " needs a value (see --help)");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      Usage(stdout);
      return 0;
    } else if (arg == "--target") {
      const std::string name = value("--target");
      target = reservoir::targets::FindTarget(name);
      if (target == nullptr) Fail("unknown target '" + name + "'");
    } else if (arg == "--random" || arg == "--seed") {
      const std::string text = value(arg.c_str());
      char* end = nullptr;
      const unsigned long n = std::strtoul(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || n > 10000000) {
        Fail(arg + " " + text + ": expected a number up to 10000000");
      }
      if (arg == "--random") random = static_cast<long>(n);
      else seed = n;
    } else if (arg == "--json") {
      json = value("--json");
    } else if (!arg.empty() && arg[0] == '-') {
      Fail("unknown option '" + arg + "' (see --help)");
    } else {
      paths.emplace_back(arg);
    }
  }
  if (paths.empty() && random == 0) Fail("no input given (see --help)");

  struct Input {
    std::string name;
    reservoir::program::Program program;
  };
  std::vector<Input> inputs;
  const std::vector<fs::path> files = reservoir::tools::ExpandPaths(
      kProg, paths, reservoir::tools::DirectoryWalk::kRecursive);
  for (const fs::path& file : files) {
    std::optional<reservoir::program::Program> program =
        reservoir::tools::LoadProgram(kProg, file, target);
    if (!program) continue;  // not an input (a README, a script)
    inputs.push_back({file.string(), std::move(*program)});
  }
  std::mt19937_64 rng(seed);
  for (long n = 0; n < random; ++n) {
    const auto all = reservoir::targets::AllTargets();
    const TargetProfile& t = target != nullptr ? *target : all[n % all.size()];
    std::vector<uint8_t> bytes(64 + rng() % 512);
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
    inputs.push_back({std::string("random#") + std::to_string(n) + "/" + t.name,
                      reservoir::targets::DecodeForTarget(t, bytes)});
  }

  reservoir::SetReportHandlerForTesting(&ThrowFinding);
  Runner direct, adapter;
  size_t same = 0, findings = 0;
  std::vector<std::string> differ;
  for (const Input& input : inputs) {
    const Run a = direct.Go(input.program, false);
    const Run b = adapter.Go(input.program, true);
    std::string la, lb;
    const size_t line = FirstDifference(a.trace, b.trace, &la, &lb);
    if (line == 0 && a.finding == b.finding) {
      ++same;
      if (!a.finding.empty()) {
        ++findings;
        std::printf("same  %s: both report %s\n", input.name.c_str(),
                    a.finding.c_str());
      }
      continue;
    }
    differ.push_back(input.name);
    std::printf("DIFFER %s\n", input.name.c_str());
    if (line != 0) {
      std::printf("  trace line %zu\n    direct:  %s\n    adapter: %s\n", line,
                  la.c_str(), lb.c_str());
    }
    std::printf("  finding direct: %s\n  finding adapter: %s\n",
                a.finding.empty() ? "none" : a.finding.c_str(),
                b.finding.empty() ? "none" : b.finding.c_str());
  }
  reservoir::SetReportHandlerForTesting(nullptr);
  std::printf("%zu programs compared: %zu alike (%zu with the same finding), "
              "%zu differ\n", inputs.size(), same, findings, differ.size());
  if (!json.empty()) {
    std::string out = "{\"compared\":" + std::to_string(inputs.size()) +
                      ",\"same\":" + std::to_string(same) +
                      ",\"findings\":" + std::to_string(findings) + ",\"differ\":[";
    for (size_t i = 0; i < differ.size(); ++i) {
      out += (i ? "," : "") + JsonString(differ[i]);
    }
    out += "]}\n";
    const std::string tmp = json + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (f == nullptr || std::fputs(out.c_str(), f) < 0 || std::fclose(f) != 0 ||
        std::rename(tmp.c_str(), json.c_str()) != 0) {
      Fail("cannot write '" + json + "'");
    }
  }
  return differ.empty() ? 0 : 1;
}
