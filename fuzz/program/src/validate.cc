#include "reservoir/program/validate.h"

#include <algorithm>
#include <array>
#include <variant>

namespace reservoir::program {
namespace {

template <class T, size_t N>
bool InTable(const T (&table)[N], T value) {
  return TableIndex(table, value) >= 0;
}

class Validator {
 public:
  explicit Validator(const Program& program) : program_(program) {}

  std::vector<Problem> Run() {
    CheckHeader();
    if (program_.ops.size() > kMaxOps) {
      Add(Severity::kError, static_cast<int>(kMaxOps),
          std::to_string(program_.ops.size()) + " operations; Encode keeps " +
              "the first " + std::to_string(kMaxOps));
    }
    most_live_[static_cast<size_t>(LiveSet::kReserves)] = 1;  // the root
    for (size_t i = 0; i < program_.ops.size(); ++i) {
      CheckOp(static_cast<int>(i), program_.ops[i]);
    }
    return std::move(problems_);
  }

 private:
  void Add(Severity severity, int op_index, std::string message) {
    problems_.push_back(Problem{severity, op_index, std::move(message)});
  }
  void HeaderError(const std::string& message) {
    Add(Severity::kError, -1, message);
  }

  void CheckHeader() {
    const Header& h = program_.header;
    if (!InTable(kNormalPagesTable, h.normal_pages)) {
      HeaderError("normal_pages=" + std::to_string(h.normal_pages) +
                  " is not in the table");
    }
    if (!InTable(kHighmemPagesTable, h.highmem_pages)) {
      HeaderError("highmem_pages=" + std::to_string(h.highmem_pages) +
                  " is not in the table");
    }
    const int largest = MaxOrderFor(h.normal_pages, h.highmem_pages);
    if (h.max_order < kMinMaxOrder || h.max_order > largest) {
      HeaderError("max_order=" + std::to_string(h.max_order) +
                  " out of range (" + std::to_string(kMinMaxOrder) + ".." +
                  std::to_string(largest) + " for these zones)");
    }
    if (!InTable(kMinFreeKbytesTable, h.min_free_kbytes)) {
      HeaderError("min_free_kbytes=" + std::to_string(h.min_free_kbytes) +
                  " is not in the table");
    }
    if (h.nr_cpus < 1 || h.nr_cpus > kMaxNrCpus) {
      HeaderError("nr_cpus=" + std::to_string(h.nr_cpus) +
                  " out of range (1.." + std::to_string(kMaxNrCpus) + ")");
    }
    if (!InTable(kSlabPolicyTable, h.slab_policy)) {
      HeaderError("slab_policy is not a known policy");
    }
    if (!InTable(kEstimatorTable, h.estimator)) {
      HeaderError("estimator is not a known estimator");
    }
    if (!InTable(kAuditTable, h.audit)) {
      HeaderError("audit must be cheap or full");
    }
    if (h.fault_mode >= FaultMode::kCount) {
      HeaderError("fault_mode is not a known mode");
    }
    if (!InTable(kProbabilityPpmTable, h.probability_ppm)) {
      HeaderError("probability_ppm=" + std::to_string(h.probability_ppm) +
                  " is not in the table");
    }
    if (h.fail_nth < 1 || h.fail_nth > kMaxFailNth) {
      HeaderError("fail_nth=" + std::to_string(h.fail_nth) +
                  " out of range (1.." + std::to_string(kMaxFailNth) + ")");
    }
    if (h.armed_sites & ~kAllSitesMask) {
      HeaderError("armed_sites has bits beyond the known fault sites");
    }
    const bool uses_sites = h.fault_mode == FaultMode::kRandom ||
                            h.fault_mode == FaultMode::kFailNth;
    if (uses_sites && h.armed_sites == 0) {
      Add(Severity::kWarning, -1,
          "faults: no site is armed, so nothing is injected");
    }
    if (h.fault_mode == FaultMode::kRandom && h.probability_ppm == 0) {
      Add(Severity::kWarning, -1,
          "faults: mode=random with probability_ppm=0 injects nothing");
    }
  }

  uint32_t& MostLive(LiveSet set) {
    return most_live_[static_cast<size_t>(set)];
  }

  void CheckOp(int index, const Op& op) {
    const OpInfo& info = InfoOf(KindOf(op));
    auto say = [&](Severity severity, const std::string& message) {
      Add(severity, index, std::string(info.name) + ": " + message);
    };
    bool may_run = true;
    ForEachArgOf(op, [&](ArgSpec spec, const auto& stored) {
      const uint32_t value = ArgAsNumber(stored);
      const std::string field =
          std::string(spec.name) + "=" + std::to_string(value);
      if (!ArgInRange(spec.type, value)) {
        say(Severity::kError,
            field + " out of range (" + ArgRangeText(spec.type) + ")");
        return;
      }
      if (IsRefArg(spec.type)) {
        const LiveSet set = ArgLiveSet(spec.type);
        const uint32_t most = MostLive(set);
        if (most == 0) {
          say(Severity::kWarning, std::string("no live ") + LiveSetName(set) +
                                      " here, so it does nothing");
          may_run = false;
        } else if (value >= most) {
          say(Severity::kWarning, field + " wraps: at most " +
                                      std::to_string(most) + " live " +
                                      LiveSetName(set) + " here");
        }
      } else if (spec.type == ArgType::kCpu &&
                 value >= program_.header.nr_cpus) {
        say(Severity::kWarning,
            field + " runs on cpu " +
                std::to_string(value %
                               std::max<uint32_t>(1, program_.header.nr_cpus)) +
                " (cpu modulo nr_cpus=" +
                std::to_string(program_.header.nr_cpus) + ")");
      } else if (spec.type == ArgType::kFreeCpu &&
                 value != kFreeOnOwnCpu && value - 1 >= program_.header.nr_cpus) {
        say(Severity::kWarning,
            std::string(spec.name) + "=" + std::to_string(value - 1) +
                " frees on cpu " +
                std::to_string((value - 1) %
                               std::max<uint32_t>(1, program_.header.nr_cpus)) +
                " (cpu modulo nr_cpus=" +
                std::to_string(program_.header.nr_cpus) + ")");
      } else if (spec.type == ArgType::kOrder &&
                 static_cast<int>(value) > program_.header.max_order) {
        say(Severity::kWarning, field + " is clamped to max_order=" +
                                    std::to_string(program_.header.max_order));
      }
    });
    if (may_run) TrackLiveSets(info);
    CheckState(op, say);
  }

  // Upper bounds on the live sets: every add may succeed, and a remove
  // certainly takes one element when the set is not empty.
  void TrackLiveSets(const OpInfo& info) {
    if (info.adds != LiveSet::kNone) ++MostLive(info.adds);
    // cache_destroy removes nothing while the cache has objects, so it
    // does not lower the bound.
    if (info.removes != LiveSet::kNone && info.kind != OpKind::kCacheDestroy &&
        MostLive(info.removes) > 0) {
      --MostLive(info.removes);
    }
  }

  // Task and interrupt state are flags, not counters; pressure is held
  // until released.
  template <class Say>
  void CheckState(const Op& op, Say& say) {
    auto flip = [&](bool& flag, bool to, const char* what) {
      if (flag == to) {
        say(Severity::kWarning, std::string(what) +
                                    (to ? " is already set" : " is not set") +
                                    ", so it does nothing");
      }
      flag = to;
    };
    switch (KindOf(op)) {
      case OpKind::kSetPfMemalloc:
        flip(pf_memalloc_, true, "PF_MEMALLOC");
        break;
      case OpKind::kClearPfMemalloc:
        flip(pf_memalloc_, false, "PF_MEMALLOC");
        break;
      case OpKind::kEnterSoftirq: flip(in_softirq_, true, "softirq"); break;
      case OpKind::kLeaveSoftirq: flip(in_softirq_, false, "softirq"); break;
      case OpKind::kSetOomVictim: flip(oom_victim_, true, "OOM victim"); break;
      case OpKind::kClearOomVictim:
        flip(oom_victim_, false, "OOM victim");
        break;
      case OpKind::kPressure:
        if (std::get<op::Pressure>(op).pages == 0) {
          say(Severity::kWarning, "pages=0 allocates nothing");
        } else {
          pressure_held_ = true;
        }
        break;
      case OpKind::kReleasePressure:
        if (!pressure_held_) {
          say(Severity::kWarning, "no pressure is held, so it does nothing");
        }
        pressure_held_ = false;
        break;
      case OpKind::kFailNext:
        if (program_.header.fault_mode != FaultMode::kInput) {
          say(Severity::kWarning, "does nothing unless faults mode=input");
        }
        break;
      default: break;
    }
  }

  const Program& program_;
  std::vector<Problem> problems_;
  std::array<uint32_t, static_cast<size_t>(LiveSet::kCount)> most_live_{};
  bool pf_memalloc_ = false;
  bool in_softirq_ = false;
  bool oom_victim_ = false;
  bool pressure_held_ = false;
};

}  // namespace

std::string Problem::ToString() const {
  std::string text = severity == Severity::kError ? "error: " : "warning: ";
  text +=
      op_index < 0 ? std::string("header") : "op " + std::to_string(op_index);
  return text + ": " + message;
}

std::vector<Problem> Validate(const Program& program) {
  return Validator(program).Run();
}

bool HasErrors(std::span<const Problem> problems) {
  for (const Problem& problem : problems) {
    if (problem.severity == Severity::kError) return true;
  }
  return false;
}

}  // namespace reservoir::program
