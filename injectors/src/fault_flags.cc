#include "reservoir/injectors/fault_flags.h"

#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "reservoir/injectors/fault_config_syntax.h"
#include "text_value.h"

namespace reservoir::injectors {
namespace {

constexpr std::string_view kLinePrefix = "--faults=";
constexpr std::string_view kEntryPrefix = "--fault-";
constexpr std::string_view kOurPrefix = "--fault";

absl::Status Prefixed(std::string_view where, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(ToAbsl(where), ": ", status.message()));
}

}  // namespace

absl::Status ApplyFaultConfigFromEnvironment(FaultConfig* config) {
  const char* value = std::getenv(kFaultConfigEnvVar);
  if (value == nullptr) return absl::OkStatus();
  return Prefixed(kFaultConfigEnvVar, ApplyFaultConfig(value, config));
}

absl::StatusOr<std::vector<char*>> ConsumeFaultFlags(int argc, char** argv,
                                                     FaultConfig* config) {
  FaultConfig updated = *config;
  std::vector<char*> remaining;
  if (argc > 0) remaining.push_back(argv[0]);
  bool flags_ended = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (flags_ended || !arg.starts_with(kOurPrefix)) {
      flags_ended = flags_ended || arg == "--";
      remaining.push_back(argv[i]);
      continue;
    }
    const std::string where =
        absl::CHexEscape(ToAbsl(arg.substr(0, arg.find('='))));
    absl::Status status;
    if (arg.starts_with(kLinePrefix)) {
      status = ApplyFaultConfig(arg.substr(kLinePrefix.size()), &updated);
    } else if (arg.starts_with(kEntryPrefix) &&
               arg.find('=') != std::string_view::npos) {
      const std::string_view entry = arg.substr(kEntryPrefix.size());
      const size_t equals = entry.find('=');
      status = ApplyFaultConfigEntry(entry.substr(0, equals),
                                     entry.substr(equals + 1), &updated);
    } else {
      status = absl::InvalidArgumentError(
          "not a fault flag (use --faults=<config> or --fault-<key>=<value>)");
    }
    if (!status.ok()) return Prefixed(where, status);
  }
  *config = std::move(updated);
  return remaining;
}

absl::StatusOr<FaultConfig> LoadFaultConfig(
    int argc, char** argv, std::vector<char*>* remaining_args) {
  FaultConfig config;
  absl::Status status = ApplyFaultConfigFromEnvironment(&config);
  if (!status.ok()) return status;
  absl::StatusOr<std::vector<char*>> rest =
      ConsumeFaultFlags(argc, argv, &config);
  if (!rest.ok()) return rest.status();
  if (remaining_args != nullptr) *remaining_args = *std::move(rest);
  return config;
}

}  // namespace reservoir::injectors
