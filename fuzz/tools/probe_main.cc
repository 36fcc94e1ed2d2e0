// <target>_probe: the determinism probe of one fuzz target. It links the
// target's own entry point and libraries, built for libFuzzer, with a
// recorder in place of libFuzzer: per input it records what libFuzzer would
// take from the run (the 8-bit edge counters in libFuzzer's buckets, the
// operands of every traced comparison and switch, the indirect calls, the
// memcmp/strcmp-family operands the sanitizer's interceptors hand to
// libFuzzer's hooks, and the stack depth) and compares the records of each
// input run
//   alone, twice, each time in a fresh process (what the process itself
//          brings: addresses, address-space randomisation, the clock);
//   after the inputs before it, in one process (state kept from one input
//          to the next);
//   again, after every input, itself included.
// Records that should be the same and are not mean two libFuzzer runs with
// the same -seed can part (docs/ENGINES.md, "What repeats").
#include <dlfcn.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "probe_recorder.h"
#include "reservoir/tools/cli.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);
extern "C" char** environ;
// The target's name, from a file CMake writes for each probe.
extern const char kReservoirProbeTarget[];

// ---------------------------------------------------------------------------
// Records and their comparison.
namespace {

namespace fs = std::filesystem;
std::string g_prog;  // "<target>_probe"

[[noreturn]] void Fail(const std::string& message) {
  reservoir::tools::Fail(g_prog.c_str(), message);
}

// libFuzzer's buckets of an 8-bit counter (its CounterToFeature).
unsigned Bucket(uint8_t counter) {
  if (counter >= 128) return 7;
  if (counter >= 32) return 6;
  if (counter >= 16) return 5;
  if (counter >= 8) return 4;
  if (counter >= 4) return 3;
  if (counter >= 3) return 2;
  if (counter >= 2) return 1;
  return 0;
}

// An address as a module and an offset in it, which stays the same
// whatever address the module is loaded at ("probe" is this program); "?"
// and the address itself where the address is in no module.
std::string Place(uintptr_t address) {
  static const void* const self = [] {
    Dl_info info;
    return dladdr(reinterpret_cast<void*>(&Bucket), &info) != 0
               ? info.dli_fbase
               : nullptr;
  }();
  Dl_info info;
  char text[64];
  if (dladdr(reinterpret_cast<void*>(address), &info) != 0 &&
      info.dli_fbase != nullptr) {
    const char* name = info.dli_fname != nullptr ? info.dli_fname : "?";
    const char* slash = std::strrchr(name, '/');
    std::snprintf(text, sizeof(text), "+%" PRIxPTR,
                  address - reinterpret_cast<uintptr_t>(info.dli_fbase));
    if (info.dli_fbase == self) return std::string("probe") + text;
    return std::string(slash != nullptr ? slash + 1 : name) + text;
  }
  std::snprintf(text, sizeof(text), "?%" PRIxPTR, address);
  return text;
}

std::string Hex(const uint8_t* bytes, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out.empty() ? "-" : out;
}

// Runs one input under the recorder; returns its record, one line an item:
//   cov PLACE BUCKET           an edge counter that is not zero
//   cmp PLACE SIZE A B         a traced comparison (sw: a switch, ind: an
//   sw PLACE SIZE VALUE CASES  indirect call and its callee's place)
//   ind PLACE CALLEE
//   mem HOOK PLACE N LEFT RIGHT  a compare of memory libFuzzer would keep
//   depth BYTES                the deepest stack below the entry point
std::string RecordOne(const std::vector<uint8_t>& data) {
  const reservoir::probe::Recording r =
      reservoir::probe::RunRecorded(data.data(), data.size());
  std::string record;
  char line[96];
  for (size_t index = 0; index < r.ncounters; ++index) {
    const uint8_t* c = &r.counters[index];
    if (*c == 0) continue;
    record += "cov " + Place(r.pcs[2 * index]);
    std::snprintf(line, sizeof(line), " %u\n", Bucket(*c));
    record += line;
  }
  for (size_t i = 0; i < r.nevents; ++i) {
    const reservoir::probe::Event& e = r.events[i];
    switch (e.kind) {
      case 'c':
      case 's':
        record += (e.kind == 'c' ? "cmp " : "sw ") + Place(e.pc);
        std::snprintf(line, sizeof(line), " %u %" PRIx64 " %" PRIx64 "\n",
                      e.size, e.a, e.b);
        record += line;
        break;
      case 'i':
        record += "ind " + Place(e.pc) + " " + Place(e.a) + "\n";
        break;
      default: {
        const reservoir::probe::MemoryEvent& m = r.memory[e.a];
        record += std::string("mem ") + m.hook + " " + Place(e.pc) + " " +
                  std::to_string(m.n) + " " + Hex(m.left, m.left_size) + " " +
                  Hex(m.right, m.right_size) + "\n";
        break;
      }
    }
  }
  if (r.overflow) record += "overflow: more than 4M events, the rest not recorded\n";
  std::snprintf(line, sizeof(line), "depth %" PRIuPTR "\n", r.stack_depth);
  record += line;
  return record;
}

// Like libFuzzer, which runs the empty input before the first real one.
void Start(int* argc, char*** argv, bool empty_first) {
  LLVMFuzzerInitialize(argc, argv);
  if (!reservoir::probe::Instrumented()) {
    Fail("the target is not instrumented for coverage (a libFuzzer build "
         "is needed)");
  }
  static const uint8_t kNothing = 0;
  if (empty_first) LLVMFuzzerTestOneInput(&kNothing, 0);
}

// The record of `file` run alone in a fresh process: this program again,
// with --record-one.
bool RecordAlone(const fs::path& file, bool empty_first, std::string* record,
                 std::string* error) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) Fail(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  std::string self = "/proc/self/exe";
  std::string path = file.string();
  std::vector<char*> args = {self.data(), const_cast<char*>("--record-one"),
                             path.data()};
  if (!empty_first) args.push_back(const_cast<char*>("--no-empty"));
  args.push_back(nullptr);
  pid_t pid;
  const int spawned = posix_spawn(&pid, self.c_str(), &actions, nullptr,
                                  args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawned != 0) {
    close(pipe_fds[0]);
    Fail(std::string("cannot start a fresh process: ") + std::strerror(spawned));
  }
  record->clear();
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(pipe_fds[0], buffer, sizeof(buffer));
    if (n > 0) {
      record->append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  *error = WIFSIGNALED(status)
               ? "the run alone died of signal " + std::to_string(WTERMSIG(status))
               : "the run alone exited with status " +
                     std::to_string(WEXITSTATUS(status));
  return false;
}

// The lines of `record` whose first word is `part`.
std::vector<std::string> Part(const std::string& record, const std::string& part) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < record.size()) {
    size_t end = record.find('\n', start);
    if (end == std::string::npos) end = record.size();
    const std::string line = record.substr(start, end - start);
    if (line.compare(0, part.size() + 1, part + " ") == 0) lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

const char* const kParts[] = {"cov", "cmp", "sw", "ind", "mem", "depth", "overflow:"};

// "" when `a` and `b` agree; otherwise which parts differ and, for the
// first of them, the first line where they part.
std::string Difference(const std::string& a, const std::string& b) {
  if (a == b) return "";
  std::string parts, first;
  for (const char* part : kParts) {
    const std::vector<std::string> la = Part(a, part), lb = Part(b, part);
    if (la == lb) continue;
    parts += std::string(parts.empty() ? "" : ",") + part;
    if (!first.empty()) continue;
    size_t i = 0;
    while (i < la.size() && i < lb.size() && la[i] == lb[i]) ++i;
    first = "line " + std::to_string(i + 1) + " of " + part + ": '" +
            (i < la.size() ? la[i] : "<end>") + "' / '" +
            (i < lb.size() ? lb[i] : "<end>") + "'";
  }
  if (parts.empty()) return "other lines";
  return parts + "; " + first;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void Usage(FILE* out) {
  std::fprintf(out,
      "Usage: %s [--no-empty] [--show-same] PATH...\n\n"
      "The determinism probe of %s: runs each input (a file, or the files of\n"
      "a directory in name order) under a recorder of what libFuzzer would\n"
      "take from the run (edge counters in libFuzzer's buckets, traced\n"
      "comparisons and switches, indirect calls, the memcmp/strcmp-family\n"
      "operands the sanitizer hands to libFuzzer's hooks, stack depth) and\n"
      "compares the records of the input run\n"
      "  fresh  alone in a fresh process, twice (what the process brings:\n"
      "         addresses, address-space randomisation)\n"
      "  after  after the inputs before it, in one process (state kept from\n"
      "         one input to the next), against alone\n"
      "  again  after every input, itself included, against alone\n"
      "It prints each input whose records differ, with the parts that differ\n"
      "(cov, cmp, sw, ind, mem, depth) and the first differing line (places\n"
      "are module+offset, 'probe' for this program: `addr2line -f -e\n"
      "BINARY OFFSET` names them), then a summary line and a JSON line.\n"
      "Inputs are never modified.\n\n"
      "  --no-empty   do not run the empty input first (libFuzzer does)\n"
      "  --show-same  also print the inputs whose records agree\n"
      "  --record-one FILE  print the record of FILE alone and exit (what the\n"
      "               fresh processes do)\n\n"
      "Each input runs four times, two of them in a process of its own (about\n"
      "0.2 s an input under ASan: 70 s for 400 inputs). Exit status: 0 every record agrees; 1 some differ (or a run\n"
      "alone failed); 2 bad usage or an unreadable input; a finding aborts\n"
      "with its report, as in the fuzzer.\n",
      g_prog.c_str(), kReservoirProbeTarget);
}

}  // namespace

int main(int argc, char** argv) {
  g_prog = std::string(kReservoirProbeTarget) + "_probe";
  bool empty_first = true;
  bool show_same = false;
  std::vector<fs::path> paths;
  fs::path record_one;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      Usage(stdout);
      return 0;
    } else if (arg == "--no-empty") {
      empty_first = false;
    } else if (arg == "--show-same") {
      show_same = true;
    } else if (arg == "--record-one") {
      if (i + 1 >= argc) Fail("--record-one needs a file");
      record_one = argv[++i];
    } else if (!arg.empty() && arg[0] == '-') {
      Fail("unknown option '" + arg + "' (see --help)");
    } else {
      paths.emplace_back(arg);
    }
  }
  if (!record_one.empty()) {
    const std::vector<uint8_t> data =
        reservoir::tools::ReadInputFile(g_prog.c_str(), record_one);
    int start_argc = 1;
    Start(&start_argc, &argv, empty_first);
    const std::string record = RecordOne(data);
    std::fwrite(record.data(), 1, record.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 2;
  }
  if (paths.empty()) Fail("no input given (see --help)");
  const std::vector<fs::path> files = reservoir::tools::ExpandPaths(
      g_prog.c_str(), paths, reservoir::tools::DirectoryWalk::kTopLevel);
  if (files.empty()) Fail("no input file in the paths given");
  std::vector<std::vector<uint8_t>> inputs;
  for (const fs::path& file : files) {
    inputs.push_back(reservoir::tools::ReadInputFile(g_prog.c_str(), file));
  }

  // In this process: every input, then every input again.
  int start_argc = 1;
  Start(&start_argc, &argv, empty_first);
  std::vector<std::string> after, again;
  for (const auto& input : inputs) after.push_back(RecordOne(input));
  for (const auto& input : inputs) again.push_back(RecordOne(input));

  size_t differ = 0, fresh_differ = 0, after_differ = 0, again_differ = 0;
  std::string json_inputs;
  for (size_t i = 0; i < files.size(); ++i) {
    std::string alone1, alone2, error;
    std::string fresh, with_after, with_again;
    if (!RecordAlone(files[i], empty_first, &alone1, &error) ||
        !RecordAlone(files[i], empty_first, &alone2, &error)) {
      fresh = error;
    } else {
      fresh = Difference(alone1, alone2);
      with_after = Difference(alone1, after[i]);
      with_again = Difference(alone1, again[i]);
    }
    const bool same = fresh.empty() && with_after.empty() && with_again.empty();
    if (!same || show_same) {
      std::printf("%s %s\n", same ? "same  " : "DIFFER", files[i].string().c_str());
      if (!fresh.empty()) std::printf("  fresh: %s\n", fresh.c_str());
      if (!with_after.empty()) std::printf("  after: %s\n", with_after.c_str());
      if (!with_again.empty()) std::printf("  again: %s\n", with_again.c_str());
    }
    if (same) continue;
    ++differ;
    fresh_differ += !fresh.empty();
    after_differ += !with_after.empty();
    again_differ += !with_again.empty();
    json_inputs += std::string(json_inputs.empty() ? "" : ",") + "{\"input\":" +
                   JsonString(files[i].string()) + ",\"fresh\":" + JsonString(fresh) +
                   ",\"after\":" + JsonString(with_after) +
                   ",\"again\":" + JsonString(with_again) + "}";
  }
  std::printf("%zu inputs probed: %zu differ (fresh %zu, after %zu, again %zu)\n",
              files.size(), differ, fresh_differ, after_differ, again_differ);
  std::printf("{\"target\":\"%s\",\"inputs\":%zu,\"differ\":%zu,\"fresh\":%zu,"
              "\"after\":%zu,\"again\":%zu,\"differing\":[%s]}\n",
              kReservoirProbeTarget, files.size(), differ, fresh_differ,
              after_differ, again_differ, json_inputs.c_str());
  return differ == 0 ? 0 : 1;
}
