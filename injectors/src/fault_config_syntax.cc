#include "reservoir/injectors/fault_config_syntax.h"

#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reservoir/gfp.h"
#include "text_value.h"

namespace reservoir::injectors {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();

// Bit per SiteKind: which sites a knob belongs to.
constexpr unsigned KindBit(SiteKind kind) {
  return 1u << static_cast<int>(kind);
}
constexpr unsigned kEveryKind = KindBit(SiteKind::kPage) |
                                KindBit(SiteKind::kSlab) |
                                KindBit(SiteKind::kReserve);

// One "<site>.<knob>" setting. parse() writes only on success.
struct SiteKnob {
  std::string_view name;
  unsigned kinds;
  bool in_boot_form;  // printed inside "<site>=i,p,s,t", not on its own
  absl::Status (*parse)(FaultSite site, std::string_view value, SiteConfig& c);
  std::string (*format)(FaultSite site, const SiteConfig& c);
};

absl::Status ParseProbabilityInto(std::string_view value, Probability* out) {
  absl::StatusOr<Probability> p = Probability::Parse(value);
  if (!p.ok()) return p.status();
  *out = *p;
  return absl::OkStatus();
}

absl::Status ParseNamesInto(std::string_view value, NameList* out) {
  absl::StatusOr<NameList> names = NameList::Parse(value);
  if (!names.ok()) return names.status();
  *out = *std::move(names);
  return absl::OkStatus();
}

absl::Status ParseBoolInto(std::string_view value, bool* out) {
  return ParseBool(value, out);
}

absl::Status ParseIntInto(std::string_view value, int min, int max, int* out) {
  uint64_t parsed = 0;
  absl::Status status = ParseUnsigned(value, static_cast<uint64_t>(min),
                                      static_cast<uint64_t>(max), &parsed);
  if (status.ok()) *out = static_cast<int>(parsed);
  return status;
}

absl::Status ParseModeInto(std::string_view value, DecisionMode* out) {
  std::optional<DecisionMode> mode = ParseDecisionMode(value);
  if (!mode) {
    return absl::InvalidArgumentError(
        absl::StrCat(QuoteForMessage(value), " is not a mode (random, input)"));
  }
  *out = *mode;
  return absl::OkStatus();
}

bool& IgnoreGfpWaitOf(FaultSite site, SiteConfig& c) {
  return KindOfSite(site) == SiteKind::kPage ? c.page_alloc.ignore_gfp_wait
                                             : c.slab.ignore_gfp_wait;
}
bool IgnoreGfpWaitOf(FaultSite site, const SiteConfig& c) {
  return KindOfSite(site) == SiteKind::kPage ? c.page_alloc.ignore_gfp_wait
                                             : c.slab.ignore_gfp_wait;
}

const SiteKnob kSiteKnobs[] = {
    {"interval", kEveryKind, true,
     [](FaultSite, std::string_view v, SiteConfig& c) {
       return ParseUnsigned(v, 0, kU64Max, &c.attr.interval);
     },
     [](FaultSite, const SiteConfig& c) {
       return absl::StrCat(c.attr.interval);
     }},
    {"probability", kEveryKind, true,
     [](FaultSite, std::string_view v, SiteConfig& c) {
       return ParseProbabilityInto(v, &c.attr.probability);
     },
     [](FaultSite, const SiteConfig& c) {
       return c.attr.probability.ToString();
     }},
    {"space", kEveryKind, true,
     [](FaultSite, std::string_view v, SiteConfig& c) {
       return ParseUnsigned(v, 0, kU64Max, &c.attr.space);
     },
     [](FaultSite, const SiteConfig& c) { return absl::StrCat(c.attr.space); }},
    {"times", kEveryKind, true,
     [](FaultSite, std::string_view v, SiteConfig& c) {
       return ParseSigned(v, kUnlimitedTimes, kI64Max, &c.attr.times);
     },
     [](FaultSite, const SiteConfig& c) { return absl::StrCat(c.attr.times); }},
    {"verbose", kEveryKind, false,
     [](FaultSite, std::string_view v, SiteConfig& c) {
       return ParseIntInto(v, 0, kMaxVerbose, &c.attr.verbose);
     },
     [](FaultSite, const SiteConfig& c) {
       return absl::StrCat(c.attr.verbose);
     }},
    {"mode", kEveryKind, false,
     [](FaultSite, std::string_view v, SiteConfig& c) {
       return ParseModeInto(v, &c.attr.mode);
     },
     [](FaultSite, const SiteConfig& c) {
       return std::string(DecisionModeName(c.attr.mode));
     }},
    {"require-caller", kEveryKind, false,
     [](FaultSite, std::string_view v, SiteConfig& c) {
       return ParseNamesInto(v, &c.attr.require_callers);
     },
     [](FaultSite, const SiteConfig& c) {
       return c.attr.require_callers.ToString();
     }},
    {"reject-caller", kEveryKind, false,
     [](FaultSite, std::string_view v, SiteConfig& c) {
       return ParseNamesInto(v, &c.attr.reject_callers);
     },
     [](FaultSite, const SiteConfig& c) {
       return c.attr.reject_callers.ToString();
     }},
    {"task-filter", kEveryKind, false,
     [](FaultSite, std::string_view v, SiteConfig& c) {
       return ParseBoolInto(v, &c.attr.task_filter);
     },
     [](FaultSite, const SiteConfig& c) {
       return std::string(c.attr.task_filter ? "1" : "0");
     }},
    {"min-order", KindBit(SiteKind::kPage), false,
     [](FaultSite, std::string_view v, SiteConfig& c) {
       return ParseIntInto(v, 0, kMaxOrderLimit, &c.page_alloc.min_order);
     },
     [](FaultSite, const SiteConfig& c) {
       return absl::StrCat(c.page_alloc.min_order);
     }},
    {"ignore-gfp-wait", KindBit(SiteKind::kPage) | KindBit(SiteKind::kSlab),
     false,
     [](FaultSite site, std::string_view v, SiteConfig& c) {
       return ParseBoolInto(v, &IgnoreGfpWaitOf(site, c));
     },
     [](FaultSite site, const SiteConfig& c) {
       return std::string(IgnoreGfpWaitOf(site, c) ? "1" : "0");
     }},
    {"ignore-gfp-highmem", KindBit(SiteKind::kPage), false,
     [](FaultSite, std::string_view v, SiteConfig& c) {
       return ParseBoolInto(v, &c.page_alloc.ignore_gfp_highmem);
     },
     [](FaultSite, const SiteConfig& c) {
       return std::string(c.page_alloc.ignore_gfp_highmem ? "1" : "0");
     }},
    {"cache-filter", KindBit(SiteKind::kSlab), false,
     [](FaultSite, std::string_view v, SiteConfig& c) {
       return ParseNamesInto(v, &c.slab.cache_filter);
     },
     [](FaultSite, const SiteConfig& c) {
       return c.slab.cache_filter.ToString();
     }},
    {"reserve-filter", KindBit(SiteKind::kReserve), false,
     [](FaultSite, std::string_view v, SiteConfig& c) {
       return ParseNamesInto(v, &c.reserve.reserve_filter);
     },
     [](FaultSite, const SiteConfig& c) {
       return c.reserve.reserve_filter.ToString();
     }},
};

bool KnobApplies(const SiteKnob& knob, FaultSite site) {
  return (knob.kinds & KindBit(KindOfSite(site))) != 0;
}

const SiteKnob* FindKnob(std::string_view name) {
  for (const SiteKnob& knob : kSiteKnobs) {
    if (knob.name == name) return &knob;
  }
  return nullptr;
}

std::string SiteNameList() {
  std::vector<std::string> names;
  for (int i = 0; i < kFaultSiteCount; ++i)
    names.push_back(SiteConfigName(SiteAt(i)));
  return absl::StrJoin(names, ", ");
}

std::string GenericKnobNameList() {
  std::vector<std::string> names;
  for (const SiteKnob& knob : kSiteKnobs) {
    if (knob.kinds == kEveryKind) names.emplace_back(knob.name);
  }
  return absl::StrJoin(names, ", ");
}

std::string KnobNameList(FaultSite site) {
  std::vector<std::string> names;
  for (std::string_view name : SiteKnobNames(site)) names.emplace_back(name);
  return absl::StrJoin(names, ", ");
}

absl::Status WithKey(std::string_view key, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(absl::CHexEscape(ToAbsl(key)),
                                                  ": ", status.message()));
}

// "<interval>,<probability>,<space>,<times>", as setup_fault_attr() reads it
// (but strictly: exactly four fields, nothing after them).
absl::Status ApplyBootForm(FaultSite site, std::string_view value,
                           SiteConfig& config) {
  static constexpr std::string_view kFieldNames[] = {"interval", "probability",
                                                     "space", "times"};
  const std::vector<std::string_view> fields = SplitText(value, ',');
  if (fields.size() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        QuoteForMessage(value), " has ", fields.size(),
        " fields, expected <interval>,<probability>,<space>,<times>"));
  }
  SiteConfig updated = config;
  for (size_t i = 0; i < fields.size(); ++i) {
    const SiteKnob* knob = FindKnob(kFieldNames[i]);
    absl::Status status = knob->parse(site, TrimSpace(fields[i]), updated);
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("field ", ToAbsl(kFieldNames[i]), ": ",
                                       status.message()));
    }
  }
  config = std::move(updated);
  return absl::OkStatus();
}

absl::Status ApplySiteKnob(FaultSite site, std::string_view knob_name,
                           std::string_view value, SiteConfig& config) {
  const SiteKnob* knob = FindKnob(knob_name);
  if (knob == nullptr || !KnobApplies(*knob, site)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown knob of ", SiteConfigName(site),
                     " (knobs: ", KnobNameList(site), ")"));
  }
  return knob->parse(site, value, config);
}

absl::Status ApplyEntryInPlace(std::string_view key, std::string_view value,
                               FaultConfig& config) {
  const std::string quoted_key = QuoteForMessage(key);
  if (key.empty()) return absl::InvalidArgumentError("entry has an empty key");
  if (key == "seed") {
    return WithKey(key, ParseUnsigned(value, 0, kU64Max, &config.seed));
  }
  if (key == "fail-nth") {
    return WithKey(key, ParseUnsigned(value, 0, kU64Max, &config.fail_nth));
  }
  if (key == "fail-nth-task-only") {
    return WithKey(key, ParseBool(value, &config.fail_nth_task_only));
  }
  if (const SiteKnob* knob = FindKnob(key);
      knob != nullptr && knob->kinds == kEveryKind) {
    // A generic fault_attr knob without a site: set it on every site.
    for (int i = 0; i < kFaultSiteCount; ++i) {
      absl::Status status = knob->parse(SiteAt(i), value, config.sites[i]);
      if (!status.ok()) return WithKey(key, status);
    }
    return absl::OkStatus();
  }
  const size_t dot = key.find('.');
  const std::string_view site_name = key.substr(0, dot);
  const std::optional<FaultSite> site = SiteFromConfigName(site_name);
  if (!site) {
    if (dot == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          quoted_key, ": unknown key (keys: seed, fail-nth, fail-nth-task-only, ",
          GenericKnobNameList(),
          ", <site>, <site>.<knob>; sites: ", SiteNameList(), ")"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(QuoteForMessage(site_name),
                     ": unknown site (sites: ", SiteNameList(), ")"));
  }
  SiteConfig& site_config = config.site(*site);
  if (dot == std::string_view::npos) {
    return WithKey(key, ApplyBootForm(*site, value, site_config));
  }
  return WithKey(key,
                 ApplySiteKnob(*site, key.substr(dot + 1), value, site_config));
}

}  // namespace

std::vector<std::string_view> SiteKnobNames(FaultSite site) {
  std::vector<std::string_view> names;
  for (const SiteKnob& knob : kSiteKnobs) {
    if (KnobApplies(knob, site)) names.push_back(knob.name);
  }
  return names;
}

absl::Status ApplyFaultConfigEntry(std::string_view key, std::string_view value,
                                   FaultConfig* config) {
  FaultConfig updated = *config;
  absl::Status status = ApplyEntryInPlace(key, value, updated);
  if (status.ok()) *config = std::move(updated);
  return status;
}

absl::Status ApplyFaultConfig(std::string_view text, FaultConfig* config) {
  FaultConfig updated = *config;
  for (std::string_view entry : SplitText(text, ';')) {
    entry = TrimSpace(entry);
    if (entry.empty()) continue;
    const size_t equals = entry.find('=');
    if (equals == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          QuoteForMessage(entry), ": entry has no '=' (expected key=value)"));
    }
    absl::Status status =
        ApplyEntryInPlace(TrimSpace(entry.substr(0, equals)),
                          TrimSpace(entry.substr(equals + 1)), updated);
    if (!status.ok()) return status;
  }
  *config = std::move(updated);
  return absl::OkStatus();
}

absl::StatusOr<FaultConfig> ParseFaultConfig(std::string_view text) {
  FaultConfig config;
  absl::Status status = ApplyFaultConfig(text, &config);
  if (!status.ok()) return status;
  return config;
}

std::string FormatFaultConfig(const FaultConfig& config) {
  std::string line =
      absl::StrCat("seed=", config.seed, ";fail-nth=", config.fail_nth);
  // Printed only when set, so the line of every older configuration stays.
  if (config.fail_nth_task_only) absl::StrAppend(&line, ";fail-nth-task-only=1");
  const SiteConfig defaults;
  for (int i = 0; i < kFaultSiteCount; ++i) {
    const FaultSite site = SiteAt(i);
    const SiteConfig& c = config.site(site);
    const char* name = SiteConfigName(site);
    absl::StrAppend(&line, ";", name, "=", c.attr.interval, ",",
                    c.attr.probability.ToString(), ",", c.attr.space, ",",
                    c.attr.times);
    for (const SiteKnob& knob : kSiteKnobs) {
      if (knob.in_boot_form || !KnobApplies(knob, site)) continue;
      std::string value = knob.format(site, c);
      if (value == knob.format(site, defaults)) continue;
      absl::StrAppend(&line, ";", name, ".", ToAbsl(knob.name), "=", value);
    }
  }
  return line;
}

}  // namespace reservoir::injectors
