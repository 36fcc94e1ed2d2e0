// A display reporter that forwards every run to the reporter the command
// line asked for (console, json or csv) and remembers one time per
// benchmark, so a program can print ratios between its benchmarks after
// RunSpecifiedBenchmarks(). Benchmarks never fail anything: a ratio is
// printed next to its goal, never asserted.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace reservoir::bench {

// One line of the summary: time(numerator) / time(denominator), compared
// with `goal` ("at most goal times").
struct RatioLine {
  std::string label;
  std::string numerator;    // a registered benchmark name
  std::string denominator;  // a registered benchmark name
  double goal = 0;          // 0: print the ratio without a goal
};

class RatioReporter : public benchmark::BenchmarkReporter {
 public:
  // Reads --benchmark_format= and --benchmark_color= from the unparsed
  // command line (call before benchmark::Initialize, which removes them):
  // passing a display reporter to RunSpecifiedBenchmarks() overrides the
  // library's own choice, so this one has to make it.
  RatioReporter(int argc, char** argv) {
    std::string format = "console";
    if (const char* env = std::getenv("BENCHMARK_FORMAT")) format = env;
    std::string color = "auto";
    for (int i = 1; i < argc; ++i) {
      if (std::strncmp(argv[i], "--benchmark_format=", 19) == 0)
        format = argv[i] + 19;
      if (std::strncmp(argv[i], "--benchmark_color=", 18) == 0)
        color = argv[i] + 18;
    }
    if (format == "json") {
      inner_ = std::make_unique<benchmark::JSONReporter>();
      console_ = false;
    } else if (format == "csv") {
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
      inner_ = std::make_unique<benchmark::CSVReporter>();
#pragma clang diagnostic pop
      console_ = false;
    } else {
      const char* term = std::getenv("TERM");
      const bool use_color =
          color == "true" || color == "yes" ||
          (color == "auto" && isatty(STDOUT_FILENO) &&
           (term == nullptr || std::strcmp(term, "dumb") != 0));
      inner_ = std::make_unique<benchmark::ConsoleReporter>(
          use_color ? benchmark::ConsoleReporter::OO_Color
                    : benchmark::ConsoleReporter::OO_None);
    }
  }

  bool ReportContext(const Context& context) override {
    inner_->SetOutputStream(&GetOutputStream());
    inner_->SetErrorStream(&GetErrorStream());
    return inner_->ReportContext(context);
  }

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const double to_ns = 1e9 / benchmark::GetTimeUnitMultiplier(run.time_unit);
      const Sample sample = {run.GetAdjustedRealTime() * to_ns,
                             run.GetAdjustedCPUTime() * to_ns};
      Times& times = times_[run.run_name.function_name];
      if (run.run_type == Run::RT_Iteration) {
        times.iterations.push_back(sample);
      } else if (run.aggregate_name == "median") {
        times.median = sample;
        times.has_median = true;
      }
    }
    inner_->ReportRuns(runs);
  }

  void Finalize() override { inner_->Finalize(); }

  // Time per iteration in ns, real and CPU: the median aggregate when
  // repetitions were asked for, else the median of the runs seen; false if
  // never run (filtered out, or an error).
  bool NanosPerIteration(const std::string& name, double* real,
                         double* cpu) const {
    const auto it = times_.find(name);
    if (it == times_.end()) return false;
    const Times& times = it->second;
    if (times.has_median) {
      *real = times.median.real;
      *cpu = times.median.cpu;
      return true;
    }
    if (times.iterations.empty()) return false;
    *real = Median(times.iterations, &Sample::real);
    *cpu = Median(times.iterations, &Sample::cpu);
    return true;
  }

  // The summary goes to stdout under the console table, and to stderr when
  // stdout carries JSON or CSV (so that stays machine-readable).
  void PrintRatios(const std::vector<RatioLine>& lines) const {
    FILE* out = console_ ? stdout : stderr;
    std::fflush(stdout);
    std::fprintf(out,
                 "\nRatios of real time (median when repeated); goals are "
                 "judged on real time,\nreported, never asserted. The CPU-time "
                 "ratio is steadier when other jobs share\nthe cores (for "
                 "manual-time benchmarks CPU time includes the untimed "
                 "setup).\n");
    for (const RatioLine& line : lines) {
      double num_real = 0, num_cpu = 0, den_real = 0, den_cpu = 0;
      if (!NanosPerIteration(line.numerator, &num_real, &num_cpu) ||
          !NanosPerIteration(line.denominator, &den_real, &den_cpu) ||
          den_real <= 0 || den_cpu <= 0) {
        continue;  // filtered out or failed
      }
      const double ratio = num_real / den_real;
      std::fprintf(out, "ratio %s: %.2fx  (%.1f ns / %.1f ns; cpu %.2fx)",
                   line.label.c_str(), ratio, num_real, den_real,
                   num_cpu / den_cpu);
      if (line.goal > 0) {
        std::fprintf(out, "  goal <= %.2fx: %s", line.goal,
                     ratio <= line.goal ? "met" : "NOT met");
      }
      std::fprintf(out, "\n");
    }
    std::fflush(out);
  }

 private:
  struct Sample {
    double real = 0;
    double cpu = 0;
  };
  struct Times {
    std::vector<Sample> iterations;
    Sample median;
    bool has_median = false;
  };

  static double Median(const std::vector<Sample>& samples,
                       double Sample::*field) {
    std::vector<double> sorted;
    for (const Sample& sample : samples) sorted.push_back(sample.*field);
    std::sort(sorted.begin(), sorted.end());
    const size_t n = sorted.size();
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
  bool console_ = true;
  std::map<std::string, Times> times_;
};

}  // namespace reservoir::bench
