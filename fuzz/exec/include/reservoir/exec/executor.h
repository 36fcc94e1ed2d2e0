// The executor runs a program against a ModelApi and is its oracle: it keeps
// a shadow ledger of every live handle and charge, independent of the
// allocator's own counters, and checks it after every operation; at the end
// it runs the full audit, frees everything in a fixed order and checks that
// the allocator is pristine (the reserve-leak check).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "reservoir/exec/fault_plan.h"
#include "reservoir/exec/model_api.h"
#include "reservoir/exec/reservoir_model.h"
#include "reservoir/program/program.h"

namespace reservoir::exec {

struct ExecOptions {
  // Where each operation and its result is printed (null: nowhere).
  FILE* trace = nullptr;
  // Free everything and check the pristine state at the end.
  bool teardown = true;
  // The request-level checks (provenance, watermark recomputation, zones,
  // completeness, guarantee coverage; allocation_oracle.h and
  // guarantee_coverage.h). False runs the oracle as it was before them,
  // which the tests use to show what it missed.
  bool request_checks = true;
};

struct ExecStats {
  uint64_t ops = 0;             // operations that did something
  uint64_t noops = 0;           // operations whose live set was empty, etc.
  uint64_t alloc_failures = 0;  // allocations that returned nothing
  uint64_t emergencies = 0;     // grants served from the reserve
  uint64_t injected = 0;        // failures injected by the fault plan
};

class Executor {
 public:
  Executor();
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs `program` on a freshly reset model of its header's configuration.
  // A bug is reported (RESERVOIR BUG ...) and aborts; otherwise returns.
  ExecStats Run(const program::Program& program,
                const ExecOptions& options = {});

  // Runs `program` on `api` (another implementation of the model's API).
  ExecStats RunOn(ModelApi& api, const program::Program& program,
                  const ExecOptions& options = {});

 private:
  struct State;
  class Runner;
  // `final_state_audited`: the full audit already ran on the final state
  // (the schedule's, after the last operation), so it is not run twice.
  void Teardown(bool final_state_audited);
  void TraceLevels();
  static void ReportSection(FILE* out, void* self);

  ModelPool pool_;
  FaultPlan faults_;
  std::unique_ptr<State> state_;
  bool report_registered_ = false;
};

}  // namespace reservoir::exec
