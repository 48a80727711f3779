#pragma once
// nRD: watches every stack (samples from sessions and probes), keeps per-stack estimates, runs a
// PolicyAlgorithm every period and publishes a new policy version only when the decision changes.
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "dmm/executor.hpp"
#include "dmm/path_sample.hpp"
#include "dmm/policy.hpp"
#include "dmm/policy_algorithm.hpp"
#include "dmm/policy_channel.hpp"

namespace dmm {

// How samples become estimates. Its own struct because a scenario (`nrd.estimates:`) and dmm-nrd's nrd.yaml
// (`estimates:`) set exactly these, read by one function (scenario/estimates_section.hpp): a setting validated in
// simulation is the setting deployed.
struct EstimatorConfig {
  double ewma_alpha = 0.25;           // weight of a new sample in the moving averages
  std::uint32_t failure_threshold = 2;  // consecutive failures that make a stack unhealthy
  // A stack whose last sample is older than this loses its "unhealthy" mark so it gets tried again.
  Duration retry_after = std::chrono::seconds(5);
  // An estimate (RTT, goodput or loss, each on its own) that no sample has refreshed for this long is forgotten
  // at the next period: the algorithm sees "no estimate" rather than a value from a path that may have changed
  // since (a loss frozen from a bad minute kept `weighted` off a recovered path for good). Zero = never forget.
  Duration expire_after = std::chrono::seconds(10);
  // The capacity estimate is the highest backlogged sending rate seen over this window (a max filter): long
  // enough to span a flow's slow start and its pauses, short enough that a path that lost capacity is seen to.
  Duration capacity_window = std::chrono::seconds(10);
};

struct NrdConfig : EstimatorConfig {
  Duration period = std::chrono::milliseconds(500);
};

class Nrd final : public PathSampleSink {
public:
  Nrd(Executor& executor, std::vector<StackId> stacks, std::unique_ptr<PolicyAlgorithm> algorithm,
      NrdConfig config, PolicyChannel& channel, const Policy& initial);
  ~Nrd() override;

  void start();  // begins periodic decisions (idempotent)
  void stop();   // stops deciding and drops samples, as if the daemon were gone (idempotent)
  bool running() const { return running_; }

  void on_sample(const PathSample& sample) override;
  const StackEstimates& estimates() const { return estimates_; }
  const Policy& current() const { return *current_; }
  std::uint64_t decisions() const { return decisions_; }

  // Called after every period with the estimates (the recorder writes metrics.csv from it).
  std::function<void(TimePoint, const StackEstimates&)> on_period;
  // Called when a new policy version is published.
  std::function<void(const Policy&)> on_publish;

  // Runs one decision now (used by the periodic timer; public for tests and for nRD-side triggers).
  void decide_now();

  // Publishes `policy`'s rules and down-list at once as the next version, or as `at_least` if that is higher,
  // and makes it the policy later periods start from. For a policy an operator pushes by hand, and for a daemon
  // that restarted without its state while subscribers still hold higher versions (they ignore anything not
  // newer). Publishes even when the decisions equal the current ones: a new version is what is asked for. The
  // caller validates `policy` against the stacks; version and time are set here, an empty reason is filled in.
  const Policy& publish_now(Policy policy, PolicyVersion at_least = 0);

private:
  // When each estimate was last fed: expire_after is counted from here, per estimate.
  struct Evidence {
    TimePoint rtt{0}, goodput{0}, loss{0};
    // Backlogged sending rates within the capacity window, decreasing in rate from the front: the front is the
    // window's maximum, a later entry takes over when the ones before it leave the window.
    std::deque<std::pair<TimePoint, double>> capacity;
  };

  void schedule_next();
  StackEstimate* find(const StackId& id);
  void forget_stale(TimePoint now);
  void slide_capacity_windows(TimePoint now);
  static void add_capacity_sample(Evidence& seen, TimePoint at, double bps);
  void publish(Policy next);

  Executor& executor_;
  std::unique_ptr<PolicyAlgorithm> algorithm_;
  NrdConfig config_;
  PolicyChannel& channel_;
  std::shared_ptr<const Policy> current_;
  StackEstimates estimates_;
  std::vector<Evidence> evidence_;  // parallel to estimates_
  std::map<StackId, std::size_t> index_;
  bool running_ = false;
  TimerId timer_ = 0;
  std::uint64_t decisions_ = 0;
};

}  // namespace dmm
