// The one-line text form of a FaultConfig, read from RESERVOIR_FAULTS,
// --faults=... and printed in every bug report:
//
//   seed=7;fail-nth=0;fail_page_alloc=1,10,0,-1;fail_page_alloc.min-order=0
//
// Entries are separated by ';' (spaces around entries, keys and values are
// ignored; empty entries are skipped) and applied left to right, a later
// entry overriding an earlier one. Keys:
//   seed=<u64>  fail-nth=<u64>            the run (fail-nth 0 = off)
//   fail-nth-task-only=<0|1>              count fail-nth in task context
//                                         only (the kernel's rule)
//   <site>=<interval>,<probability>,<space>,<times>   the kernel boot form
//   <site>.<knob>=<value>                 one knob of one site
//   <knob>=<value>                        a generic knob (probability,
//                                         interval, times, space, verbose,
//                                         mode, require-caller,
//                                         reject-caller, task-filter) on
//                                         every site
// Sites: fail_page_alloc, failslab, failslab_new_slab, fail_reserve_charge,
// fail_reserve_set. Knobs: see docs/FAULT-INJECTION.md or
// SiteKnobNames(). Anything else - unknown key, site or knob, a bad or
// out-of-range number, trailing junk - is an error, never "off".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "reservoir/fault_site.h"
#include "reservoir/injectors/fault_config.h"

namespace reservoir::injectors {

// The defaults with `text` applied.
absl::StatusOr<FaultConfig> ParseFaultConfig(std::string_view text);

// Applies every entry of `text` to *config, all or nothing: on error
// *config is unchanged and the message is one line naming the bad key or
// field ("fail_page_alloc.min-order: \"11\" is out of range 0..10").
absl::Status ApplyFaultConfig(std::string_view text, FaultConfig* config);

// Applies one `key=value` entry (key and value already split), all or
// nothing, with the same messages.
absl::Status ApplyFaultConfigEntry(std::string_view key, std::string_view value,
                                   FaultConfig* config);

// The canonical line: seed and fail-nth, then every site's boot form, then
// each knob whose value differs from its default. ParseFaultConfig() of it
// gives back `config` exactly, so it replays the same schedule.
std::string FormatFaultConfig(const FaultConfig& config);

// The knob names `site` accepts after "<site>.", in canonical order.
std::vector<std::string_view> SiteKnobNames(FaultSite site);

}  // namespace reservoir::injectors
