#pragma once
// How versioned policies travel from nRD to orchestrators. In-process with a delay here (simulation, tests);
// a Unix-domain or TCP socket between processes lives with the daemon.
#include <memory>
#include <vector>

#include "dmm/executor.hpp"
#include "dmm/policy.hpp"

namespace dmm {

class Orchestrator;

class PolicyChannel {
public:
  virtual ~PolicyChannel() = default;
  virtual void publish(std::shared_ptr<const Policy> policy) = 0;
};

// Delivers each published policy to every subscribed orchestrator after `delay` (the nRD->orchestrator
// propagation time). Orchestrators reject stale versions themselves, so reordering cannot roll a policy back.
class InProcessPolicyChannel final : public PolicyChannel {
public:
  InProcessPolicyChannel(Executor& executor, Duration delay);
  void subscribe(Orchestrator& orchestrator);
  void publish(std::shared_ptr<const Policy> policy) override;
  std::uint64_t delivered() const { return delivered_; }
  std::uint64_t rejected() const { return rejected_; }

private:
  Executor& executor_;
  Duration delay_;
  std::vector<Orchestrator*> subscribers_;
  std::uint64_t delivered_ = 0;
  std::uint64_t rejected_ = 0;
};

// Hands every published policy to several channels, in order (dmm-emu: its in-process orchestrators and the
// programs under dmm-run that subscribe over a socket).
class PolicyFanOut final : public PolicyChannel {
public:
  explicit PolicyFanOut(std::vector<PolicyChannel*> channels) : channels_(std::move(channels)) {}
  void publish(std::shared_ptr<const Policy> policy) override {
    for (PolicyChannel* c : channels_) c->publish(policy);
  }

private:
  std::vector<PolicyChannel*> channels_;
};

}  // namespace dmm
