// An adapter cannot crash the harness silently: whatever its table returns
// (null, a pointer Reservoir never handed out, an impossible view), the
// result is a report with a stable first line, never undefined behaviour.
// Each test takes the reference adapter, breaks one function, runs a small
// program and expects the report's class and place. The last tests show the
// lockstep mode and its declared choices.
#include <gtest/gtest.h>

#include <string>

#include "reservoir/adapter.h"
#include "reservoir/adapter/adapter_model.h"
#include "reservoir/exec/executor.h"
#include "reservoir/program/text_format.h"
#include "reservoir/report.h"

namespace reservoir::adapter {
namespace {

struct Reported {
  std::string signature;  // "<class>: <place>"
  std::string report;
};

void Throw(BugClass bug_class, const char* place, const char* report) {
  throw Reported{std::string(BugClassName(bug_class)) + ": " + place, report};
}

constexpr uint32_t kCapacity = 4096;

constexpr const char* kHeader =
    "# reservoir program v1\n"
    "config normal_pages=256 highmem_pages=0 max_order=8 "
    "min_free_kbytes=default nr_cpus=1 slab_policy=page_tag estimator=exact "
    "audit=cheap\n"
    "faults mode=none seed=0 probability_ppm=0 fail_nth=1 sites=none\n";

program::Program Parse(const std::string& body) {
  const auto parsed = program::FromText(std::string(kHeader) + body);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error->ToString());
  return parsed.program;
}

class AdapterContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetReportHandlerForTesting(&Throw);
    table_ = *ReferenceAdapter();
  }
  void TearDown() override { SetReportHandlerForTesting(nullptr); }

  // The signature of the report the program raises ("" when it runs clean).
  std::string RunReported(const std::string& body,
                          const AdapterOptions& options = {}) {
    const program::Program program = Parse(body);
    try {
      AdapterModel model(program::ToModelConfig(program.header), kCapacity,
                         &table_, options);
      exec::Executor executor;
      executor.RunOn(model, program);
    } catch (const Reported& reported) {
      last_report_ = reported.report;
      return reported.signature;
    }
    return "";
  }

  reservoir_adapter table_;
  std::string last_report_;
};

// A body that takes every reserve wrapper's emergency path once.
constexpr const char* kEmergencyBody =
    "reserve_create parent=0\n"
    "reserve_set_kmalloc res=1 bytes=4096\n"
    "pressure pages=256 gfp=ATOMIC cpu=0\n"
    "set_pf_memalloc\n"
    "kmalloc_reserve size=96 gfp=KERNEL cpu=0 res=1\n"
    "kfree_reserve grant=0\n";

TEST_F(AdapterContractTest, ReferenceRunsClean) {
  EXPECT_EQ(RunReported(kEmergencyBody), "");
}

TEST_F(AdapterContractTest, NullTable) {
  try {
    AdapterModel model(ModelConfig{}, kCapacity, nullptr);
    FAIL() << "no report";
  } catch (const Reported& r) {
    EXPECT_EQ(r.signature, "adapter-contract: adapter.table_missing");
  }
}

TEST_F(AdapterContractTest, MissingFunction) {
  table_.query = nullptr;
  EXPECT_EQ(RunReported(""), "adapter-contract: adapter.table_incomplete");
  EXPECT_NE(last_report_.find("no query function"), std::string::npos)
      << last_report_;
}

TEST_F(AdapterContractTest, WrongAbi) {
  table_.abi = 99;
  EXPECT_EQ(RunReported(""), "adapter-contract: adapter.table_abi");
}

TEST_F(AdapterContractTest, NullRoot) {
  table_.root = [] { return static_cast<reservoir_reserve*>(nullptr); };
  EXPECT_EQ(RunReported(""), "adapter-contract: adapter.root_null");
}

TEST_F(AdapterContractTest, CreateReturnsTheRoot) {
  table_.create = [](const char*, reservoir_reserve*) {
    return ReferenceAdapter()->root();
  };
  EXPECT_EQ(RunReported("reserve_create parent=0\n"),
            "adapter-contract: adapter.create_returned_live_node");
}

TEST_F(AdapterContractTest, QueryNamesAParentNeverHandedOut) {
  table_.query = [](const reservoir_reserve* res, reservoir_reserve_info* out) {
    const int status = ReferenceAdapter()->query(res, out);
    if (out->parent != nullptr) {
      out->parent = reinterpret_cast<const reservoir_reserve*>(uintptr_t{0xdead0});
    }
    return status;
  };
  EXPECT_EQ(RunReported("reserve_create parent=0\n"),
            "adapter-contract: adapter.query_unknown_parent");
}

TEST_F(AdapterContractTest, QueryRefusesALiveNode) {
  table_.query = [](const reservoir_reserve*, reservoir_reserve_info*) {
    return -1;
  };
  EXPECT_EQ(RunReported("reserve_create parent=0\n"),
            "adapter-contract: adapter.query_refused");
}

TEST_F(AdapterContractTest, RootWithMorePagesThanTheArena) {
  table_.query = [](const reservoir_reserve* res, reservoir_reserve_info* out) {
    const int status = ReferenceAdapter()->query(res, out);
    out->pages = uint64_t{1} << 40;
    return status;
  };
  EXPECT_EQ(RunReported("reserve_create parent=0\n"),
            "adapter-contract: adapter.query_impossible_pages");
}

TEST_F(AdapterContractTest, ChildrenHoldMoreThanTheirParent) {
  table_.query = [](const reservoir_reserve* res, reservoir_reserve_info* out) {
    const int status = ReferenceAdapter()->query(res, out);
    if (out->parent != nullptr) out->limit += 1;  // every child: one more
    return status;
  };
  EXPECT_EQ(RunReported("reserve_create parent=0\naudit\n"),
            "adapter-contract: adapter.view_children_exceed_parent");
}

TEST_F(AdapterContractTest, KmallocReserveReturnsGarbage) {
  table_.kmalloc_reserve = [](size_t, reservoir_gfp_t, reservoir_reserve*,
                              int* emergency) {
    *emergency = 1;
    return reinterpret_cast<void*>(uintptr_t{0x1000});
  };
  EXPECT_EQ(RunReported(kEmergencyBody),
            "adapter-contract: adapter.grant_foreign_object/kmalloc_reserve");
}

TEST_F(AdapterContractTest, KmallocReserveReturnsAPageNotAnObject) {
  table_.kmalloc_reserve = [](size_t, reservoir_gfp_t gfp, reservoir_reserve*,
                              int*) {
    return reservoir_page_address(reservoir_alloc_pages(gfp, 0));
  };
  EXPECT_EQ(RunReported("reserve_create parent=0\n"
                        "kmalloc_reserve size=64 gfp=KERNEL cpu=0 res=1\n"),
            "adapter-contract: adapter.grant_wrong_kind/kmalloc_reserve");
}

TEST_F(AdapterContractTest, KmallocReserveReturnsALiveObjectAgain) {
  static void* last;
  last = nullptr;
  table_.kmalloc_reserve = [](size_t size, reservoir_gfp_t gfp,
                              reservoir_reserve*, int*) {
    if (last == nullptr) last = reservoir_kmalloc(size, gfp);
    return last;
  };
  EXPECT_EQ(RunReported("reserve_create parent=0\n"
                        "kmalloc_reserve size=64 gfp=KERNEL cpu=0 res=1\n"
                        "kmalloc_reserve size=64 gfp=KERNEL cpu=0 res=1\n"),
            "adapter-contract: adapter.grant_already_live/kmalloc_reserve");
}

TEST_F(AdapterContractTest, AllocPagesReserveReturnsAPfnOutsideTheArena) {
  table_.alloc_pages_reserve = [](reservoir_gfp_t, unsigned, reservoir_reserve*,
                                  int*) { return reservoir_pfn_t{1u << 30}; };
  EXPECT_EQ(RunReported("reserve_create parent=0\n"
                        "alloc_pages_reserve order=0 gfp=KERNEL cpu=0 res=1\n"),
            "adapter-contract: adapter.grant_bad_page/alloc_pages_reserve");
}

TEST_F(AdapterContractTest, AllocPagesReserveReturnsAFreePage) {
  table_.alloc_pages_reserve = [](reservoir_gfp_t, unsigned, reservoir_reserve*,
                                  int*) { return reservoir_pfn_t{100}; };
  EXPECT_EQ(RunReported("reserve_create parent=0\n"
                        "alloc_pages_reserve order=0 gfp=KERNEL cpu=0 res=1\n"),
            "adapter-contract: adapter.grant_bad_page/alloc_pages_reserve");
}

TEST_F(AdapterContractTest, GarbageCacheHandle) {
  table_.kmem_cache_alloc_reserve = [](reservoir_kmem_cache*, reservoir_gfp_t gfp,
                                       reservoir_reserve*, int*) {
    return reservoir_kmem_cache_alloc(
        reinterpret_cast<reservoir_kmem_cache*>(uintptr_t{0x777777}), gfp);
  };
  EXPECT_EQ(RunReported("reserve_create parent=0\n"
                        "cache_create size=64 align=8\n"
                        "cache_alloc_reserve cache=0 gfp=KERNEL cpu=0 res=1\n"),
            "adapter-contract: adapter.api_unknown_cache");
}

TEST_F(AdapterContractTest, ApiOutsideACall) {
  try {
    reservoir_kmalloc(64, RESERVOIR_GFP_KERNEL);
    FAIL() << "no report";
  } catch (const Reported& r) {
    EXPECT_EQ(r.signature, "adapter-contract: adapter.api_outside_call");
  }
}

// Not a contract breach but a bug of the implementation, found by the same
// oracle as the model's: a tree whose root grows but that never tells the
// page allocator (the strict reserve stays 0).
TEST_F(AdapterContractTest, StrictReserveNeverSetIsAnAccountingImbalance) {
  table_.pages_set = [](reservoir_reserve* res, uint64_t pages) {
    const int status = ReferenceAdapter()->pages_set(res, pages);
    reservoir_set_strict_reserve(0);
    return status;
  };
  EXPECT_EQ(RunReported("reserve_create parent=0\n"
                        "reserve_set_pages res=1 pages=4\n"),
            "accounting-imbalance: reserve.audit_path_root_vs_strict_reserve");
}

// A wrapper that uncharges less than it charged: the shadow ledger.
TEST_F(AdapterContractTest, UnchargeShortIsFoundByTheLedger) {
  table_.kfree_reserve = [](void* object, reservoir_reserve* res, int emergency) {
    reservoir_kfree(object);
    if (emergency) ReferenceAdapter()->uncharge(res, 1);
  };
  EXPECT_EQ(RunReported(kEmergencyBody),
            "accounting-imbalance: exec.ledger_usage/kfree_reserve");
}

// A wrapper that gives up without trying the reserve: the guarantee.
TEST_F(AdapterContractTest, WrapperThatNeverUsesTheReserveBreaksTheGuarantee) {
  table_.kmalloc_reserve = [](size_t size, reservoir_gfp_t gfp,
                              reservoir_reserve*, int*) {
    return reservoir_kmalloc(size, gfp | RESERVOIR_GFP_NOMEMALLOC);
  };
  EXPECT_EQ(RunReported(kEmergencyBody),
            "guarantee-violation: reserve.guarantee/kmalloc_reserve");
}

// The seed's strict `<`: a charge up to exactly the limit is refused.
int StrictCharge(reservoir_reserve* res, uint64_t bytes) {
  reservoir_reserve_info info{};
  ReferenceAdapter()->query(res, &info);
  if (info.usage + bytes >= info.limit) return 2;
  return ReferenceAdapter()->charge(res, bytes);
}

constexpr const char* kChargeToTheLimit =
    "reserve_create parent=0\n"
    "reserve_set_pages res=1 pages=1\n"
    "reserve_charge res=1 bytes=4096\n";

TEST_F(AdapterContractTest, LockstepReportsTheFirstDivergence) {
  table_.charge = StrictCharge;
  AdapterOptions options;
  options.lockstep = true;
  EXPECT_EQ(RunReported(kChargeToTheLimit, options),
            "divergence: lockstep.reserve_charge/result");
}

TEST_F(AdapterContractTest, LockstepHonoursADeclaredChoice) {
  table_.charge = StrictCharge;
  table_.choices = RESERVOIR_CHOICE_STRICT_LIMIT;
  AdapterOptions options;
  options.lockstep = true;
  EXPECT_EQ(RunReported(kChargeToTheLimit, options), "");
}

TEST_F(AdapterContractTest, LockstepChoiceFromTheEnvironmentList) {
  unsigned choices = 0;
  ASSERT_TRUE(ParseChoices("strict-limit,estimator", &choices));
  EXPECT_EQ(choices, RESERVOIR_CHOICE_STRICT_LIMIT | RESERVOIR_CHOICE_ESTIMATOR);
  EXPECT_FALSE(ParseChoices("strict-limit,bogus", &choices));
  table_.charge = StrictCharge;
  AdapterOptions options;
  options.lockstep = true;
  options.extra_choices = choices;
  EXPECT_EQ(RunReported(kChargeToTheLimit, options), "");
}

TEST_F(AdapterContractTest, LockstepOfTheReferenceNeverDiverges) {
  AdapterOptions options;
  options.lockstep = true;
  EXPECT_EQ(RunReported(std::string(kEmergencyBody) + kChargeToTheLimit +
                            "reserve_uncharge charge=0\n"
                            "cache_create size=192 align=8\n"
                            "reserve_set_cache res=1 cache=0 objects=8\n"
                            "cache_alloc_reserve cache=0 gfp=KERNEL cpu=0 res=1\n"
                            "alloc_pages_reserve order=0 gfp=KERNEL cpu=0 res=1\n"
                            "reserve_disconnect res=1\n"
                            "reserve_connect res=1 parent=0\n",
                        options),
            "");
}

}  // namespace
}  // namespace reservoir::adapter
