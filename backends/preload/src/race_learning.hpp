#pragma once
// What the shim's racer learns from its races for the next ones (RFC 9623's "caching what was learnt"), on the
// racer's thread:
//  - each stack's handshake time, its RTT as this process sees it: when dmm-nrd gives no estimate (none runs, or
//    it was lost), the yardstick of `attempt_delay: auto` and of a silent loser;
//  - this process's circuit breaker (dmm::CircuitBreaker, as nSocket's): an attempt that lost a race while it
//    looked silent (dmm::looks_silent), or failed for want of a path or an answer, is a strike; two in a row mark
//    the stack down in the shim's orchestrator for 5 s (new connects go to the next ranked stack without paying
//    the attempt delay), a connect on it lifts the mark. A refusal is no strike: the destination answered.
#include <optional>
#include <vector>

#include "dmm/circuit_breaker.hpp"
#include "dmm/executor.hpp"
#include "dmm/orchestrator.hpp"

namespace dmm::preload {

class RaceLearning {
public:
  // A handshake time older than this is not trusted any more (as nSocket's rtt_estimate_max_age).
  static constexpr Duration kMaxAge = std::chrono::seconds(10);
  // Without any RTT, a loser looks silent only after this long (nSocket's default connect_timeout).
  static constexpr Duration kNoEstimateLimit = std::chrono::seconds(1);

  RaceLearning(Executor& executor, Orchestrator& orchestrator);

  // dmm-nrd's estimate of the stack's RTT (cleared when dmm-nrd is lost), else this process's recent handshake
  // time on it, else nullopt.
  std::optional<Duration> rtt(StackIndex stack) const;
  // An attempt on `stack` connected after `handshake`.
  void connected(StackIndex stack, Duration handshake);
  // An attempt on `stack` failed with `err` (0: unknown, the program reads it).
  void failed(StackIndex stack, int err);
  // An attempt on `stack` lost a race after `unanswered` without an answer (the rule's `delay`).
  void lost(StackIndex stack, Duration unanswered, const AttemptDelay& delay);

private:
  struct Handshake {
    Duration smoothed{0};
    TimePoint at{0};
    bool known = false;
  };
  Executor& executor_;
  Orchestrator& orchestrator_;
  CircuitBreaker breaker_;
  std::vector<Handshake> handshakes_;
};

// pthread_atfork child: the marks this process's breaker made are the parent's learning, and their retry timers
// stayed with the parent's racer: the child starts with every stack as its policy says.
void lift_local_marks_after_fork(Orchestrator& orchestrator) noexcept;

}  // namespace dmm::preload
