// The per-context fail_nth countdown (the kernel keeps it per task in
// current->fail_nth and syzkaller writes it through /proc/.../fail-nth).
// Armed with N, the N-th eligible call of any site fails, whatever that
// site's probability, and the countdown disarms itself. The model has no
// threads, so one injector is one context.
#pragma once

#include <cstdint>

namespace reservoir::injectors {

class FailNthCountdown {
 public:
  enum class Step : uint8_t {
    kDisarmed,  // not armed: the site's own knobs decide
    kHold,      // armed, this is not the call: pass without further checks
    kFire,      // this is the N-th call: fail it; now disarmed
  };

  // 0 disarms.
  void Arm(uint64_t nth) {
    remaining_ = nth;
    fired_ = false;
  }

  // Task-only (the kernel's rule: should_fail_ex() looks at current->fail_nth
  // only when in_task()): a call in softirq neither counts down nor fires;
  // it is decided by the site's own knobs, as if disarmed. Off by default,
  // so every eligible call counts, whatever its context.
  void set_task_only(bool task_only) { task_only_ = task_only; }
  bool task_only() const { return task_only_; }

  // One eligible call went by (`in_softirq`: outside task context).
  Step Advance(bool in_softirq = false) {
    if (remaining_ == 0) return Step::kDisarmed;
    if (task_only_ && in_softirq) return Step::kDisarmed;
    if (--remaining_ != 0) return Step::kHold;
    fired_ = true;
    return Step::kFire;
  }

  bool armed() const { return remaining_ != 0; }
  // Calls left until the failure, counting the failing call (the value the
  // kernel's fail-nth file reads back: 0 once the failure was injected).
  uint64_t remaining() const { return remaining_; }
  // The armed call was reached and failed since the last Arm().
  bool fired() const { return fired_; }

 private:
  uint64_t remaining_ = 0;
  bool fired_ = false;
  bool task_only_ = false;
};

}  // namespace reservoir::injectors
