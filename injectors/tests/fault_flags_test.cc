#include "reservoir/injectors/fault_flags.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace reservoir::injectors {
namespace {

// argv as main() gets it, from string literals.
class Argv {
 public:
  Argv(std::initializer_list<const char*> args) {
    for (const char* arg : args) storage_.emplace_back(arg);
    for (std::string& arg : storage_) pointers_.push_back(arg.data());
  }
  int argc() { return static_cast<int>(pointers_.size()); }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> pointers_;
};

std::vector<std::string> Strings(const std::vector<char*>& args) {
  return std::vector<std::string>(args.begin(), args.end());
}

class EnvironmentGuard {
 public:
  EnvironmentGuard() { unsetenv(kFaultConfigEnvVar); }
  ~EnvironmentGuard() { unsetenv(kFaultConfigEnvVar); }
  void Set(const char* value) { setenv(kFaultConfigEnvVar, value, 1); }
};

TEST(FaultFlagsTest, ConsumesFaultFlagsAndKeepsTheRestInOrder) {
  Argv args{"prog",
            "--faults=seed=3;failslab=1,5,0,-1",
            "input.bin",
            "--fault-fail_page_alloc.min-order=0",
            "-v",
            "--",
            "--fault-seed=9"};
  FaultConfig config;
  absl::StatusOr<std::vector<char*>> rest =
      ConsumeFaultFlags(args.argc(), args.argv(), &config);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(Strings(*rest), (std::vector<std::string>{"prog", "input.bin", "-v",
                                                      "--", "--fault-seed=9"}));
  EXPECT_EQ(config.seed, 3u);
  EXPECT_EQ(config.site(FaultSite::kSlabObject).attr.probability,
            Probability::Percent(5));
  EXPECT_EQ(config.site(FaultSite::kPageAlloc).page_alloc.min_order, 0);
}

TEST(FaultFlagsTest, LaterFlagsOverrideEarlierOnes) {
  Argv args{"prog", "--fault-seed=1", "--faults=seed=2;fail-nth=4",
            "--fault-seed=3"};
  FaultConfig config;
  ASSERT_TRUE(ConsumeFaultFlags(args.argc(), args.argv(), &config).ok());
  EXPECT_EQ(config.seed, 3u);
  EXPECT_EQ(config.fail_nth, 4u);
}

TEST(FaultFlagsTest, BadFlagsAreErrorsNamingTheFlagAndChangeNothing) {
  struct Case {
    const char* arg;
    const char* names;
  };
  for (const Case& c :
       {Case{"--faults", "--faults"}, Case{"--fault-seed", "--fault-seed"},
        Case{"--faultseed=1", "--faultseed"},
        Case{"--fault_seed=1", "--fault_seed"},
        Case{"--fault-bogus=1", "bogus"}, Case{"--fault-=1", "empty key"},
        Case{"--faults=seed=x", "seed"},
        Case{"--fault-failslab=1,2,3", "failslab"}}) {
    Argv args{"prog", "--fault-seed=5", c.arg};
    FaultConfig config;
    absl::StatusOr<std::vector<char*>> rest =
        ConsumeFaultFlags(args.argc(), args.argv(), &config);
    ASSERT_FALSE(rest.ok()) << c.arg;
    const std::string message(rest.status().message());
    EXPECT_NE(message.find(c.names), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(config, FaultConfig()) << c.arg;
  }
}

TEST(FaultFlagsTest, EnvironmentThenFlags) {
  EnvironmentGuard env;
  env.Set("seed=11;failslab=1,10,0,-1");
  Argv args{"prog", "--fault-failslab.probability=20", "file"};
  std::vector<char*> rest;
  absl::StatusOr<FaultConfig> config =
      LoadFaultConfig(args.argc(), args.argv(), &rest);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->seed, 11u);
  EXPECT_EQ(config->site(FaultSite::kSlabObject).attr.probability,
            Probability::Percent(20));
  EXPECT_EQ(config->site(FaultSite::kSlabObject).attr.times, kUnlimitedTimes);
  EXPECT_EQ(Strings(rest), (std::vector<std::string>{"prog", "file"}));
}

TEST(FaultFlagsTest, UnsetOrEmptyEnvironmentMeansDefaults) {
  EnvironmentGuard env;
  Argv args{"prog"};
  absl::StatusOr<FaultConfig> unset =
      LoadFaultConfig(args.argc(), args.argv(), nullptr);
  ASSERT_TRUE(unset.ok());
  EXPECT_EQ(*unset, FaultConfig());
  env.Set("");
  absl::StatusOr<FaultConfig> empty =
      LoadFaultConfig(args.argc(), args.argv(), nullptr);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, FaultConfig());
}

TEST(FaultFlagsTest, BadEnvironmentIsAnErrorNamingTheVariable) {
  EnvironmentGuard env;
  env.Set("seed=7;failslab.probability=200");
  Argv args{"prog"};
  absl::StatusOr<FaultConfig> config =
      LoadFaultConfig(args.argc(), args.argv(), nullptr);
  ASSERT_FALSE(config.ok());
  const std::string message(config.status().message());
  EXPECT_NE(message.find("RESERVOIR_FAULTS"), std::string::npos) << message;
  EXPECT_NE(message.find("failslab.probability"), std::string::npos) << message;
}

}  // namespace
}  // namespace reservoir::injectors
