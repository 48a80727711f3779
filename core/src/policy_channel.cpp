#include "dmm/policy_channel.hpp"

#include "dmm/orchestrator.hpp"

namespace dmm {

InProcessPolicyChannel::InProcessPolicyChannel(Executor& executor, Duration delay)
    : executor_(executor), delay_(delay) {}

void InProcessPolicyChannel::subscribe(Orchestrator& orchestrator) { subscribers_.push_back(&orchestrator); }

void InProcessPolicyChannel::publish(std::shared_ptr<const Policy> policy) {
  // The shared_ptr keeps the policy alive until the last orchestrator has it, however long the delay.
  executor_.schedule(delay_, [this, policy = std::move(policy)] {
    for (Orchestrator* o : subscribers_) {
      if (o->apply(*policy)) {
        ++delivered_;
      } else {
        ++rejected_;
      }
    }
  });
}

}  // namespace dmm
