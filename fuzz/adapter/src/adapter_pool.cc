// The model pool of an adapter build: every executor runs its programs on
// an AdapterModel over the table the build linked (reservoir_adapter_entry),
// in lockstep with the reference when RESERVOIR_LOCKSTEP=1.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "reservoir/adapter/adapter_model.h"
#include "reservoir/exec/reservoir_model.h"

namespace reservoir::exec {
namespace {

// What the build chose (RESERVOIR_ADAPTER_LOCKSTEP, _ALLOW); the
// environment may override it.
adapter::AdapterOptions DefaultOptions() {
  adapter::AdapterOptions options;
#if defined(RESERVOIR_ADAPTER_LOCKSTEP_DEFAULT)
  options.lockstep = RESERVOIR_ADAPTER_LOCKSTEP_DEFAULT;
#endif
#if defined(RESERVOIR_ADAPTER_LOCKSTEP_ALLOW_DEFAULT)
  if (!adapter::ParseChoices(RESERVOIR_ADAPTER_LOCKSTEP_ALLOW_DEFAULT,
                             &options.extra_choices)) {
    std::fprintf(stderr, "reservoir: RESERVOIR_ADAPTER_LOCKSTEP_ALLOW=%s: "
                 "unknown choice\n", RESERVOIR_ADAPTER_LOCKSTEP_ALLOW_DEFAULT);
    std::exit(2);
  }
#endif
  return options;
}

}  // namespace

ReservoirModel& ModelPool::Acquire(const ModelConfig& config) {
  const uint32_t pages = config.normal_pages + config.highmem_pages;
  if (model_ == nullptr || model_->model().capacity_pages() < pages) {
    model_ = std::make_unique<adapter::AdapterModel>(
        config, ModelPool::ArenaCapacity(config), reservoir_adapter_entry(),
        adapter::AdapterOptionsFromEnvironment(DefaultOptions()));
    return *model_;
  }
  model_->SetFaultHook(nullptr);
  static_cast<adapter::AdapterModel&>(*model_).ResetInto(config);
  return *model_;
}

}  // namespace reservoir::exec
