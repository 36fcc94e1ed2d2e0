// Where a Reservoir binary gets its fault configuration: the environment
// variable RESERVOIR_FAULTS, then command-line flags, later settings
// overriding earlier ones:
//   RESERVOIR_FAULTS="seed=7;fail_page_alloc=1,10,0,-1" ./binary \
//       --faults="failslab=1,5,0,-1" --fault-seed=8 \
//       --fault-fail_page_alloc.min-order=0 other args...
// --faults=<line> applies a whole line; --fault-<key>=<value> applies one
// entry. Every argument that starts with "--fault" must be one of those
// two forms; "--" ends the flags (it and what follows are left alone).
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "reservoir/injectors/fault_config.h"

namespace reservoir::injectors {

inline constexpr char kFaultConfigEnvVar[] = "RESERVOIR_FAULTS";

// Applies RESERVOIR_FAULTS (when set) to *config. Unset or empty changes
// nothing; a bad value is an error naming the variable and the field.
absl::Status ApplyFaultConfigFromEnvironment(FaultConfig* config);

// Applies the fault flags of argv[1..argc) to *config, in order, and
// returns the other arguments (argv[0] first, order kept). All or nothing:
// on error *config is unchanged.
absl::StatusOr<std::vector<char*>> ConsumeFaultFlags(int argc, char** argv,
                                                     FaultConfig* config);

// The usual start of a binary: defaults, then RESERVOIR_FAULTS, then flags.
// `remaining_args` receives the arguments that were not fault flags.
absl::StatusOr<FaultConfig> LoadFaultConfig(int argc, char** argv,
                                            std::vector<char*>* remaining_args);

}  // namespace reservoir::injectors
