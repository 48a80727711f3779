#pragma once
// What the shim's racer learns from its races for the next ones (RFC 9623's "caching what was learnt"), on the
// racer's thread:
//  - each stack's handshake time, its RTT as this process sees it: when dmm-nrd gives no estimate (none runs, or
//    it was lost), the RTT of `attempt_delay: auto` (if measured in the last 10 s) and the yardstick of a silent
//    loser (the last one measured, however old: a stack that went silent is never measured again);
//  - this process's circuit breaker (dmm::CircuitBreaker, as nSocket's): in a race that another stack won — so
//    the destination was reachable — an attempt that lost while it looked silent (dmm::looks_silent), or failed
//    with no answer (ETIMEDOUT) or unreachable (EHOSTUNREACH, ENETUNREACH), is a strike; two in a row mark the
//    stack down in the shim's orchestrator for 5 s, so that new connects go to the next ranked stack at once
//    instead of paying the attempt delay; a connect on it (a race already under way) lifts the mark early. A race
//    nobody won strikes nobody: the destination itself may be down. A refusal is no strike: the destination
//    answered.
//
// Every method is noexcept: what is learnt is advice, and a race must not fail over it (out of memory: not learnt).
#include <optional>
#include <vector>

#include "dmm/circuit_breaker.hpp"
#include "dmm/executor.hpp"
#include "dmm/orchestrator.hpp"

namespace dmm::preload {

class RaceLearning {
public:
  // A handshake time older than this is not used for the attempt delay (as nSocket's rtt_estimate_max_age).
  static constexpr Duration kMaxAge = std::chrono::seconds(10);
  // Without any RTT, a loser looks silent only after this long (nSocket's default connect_timeout).
  static constexpr Duration kNoEstimateLimit = std::chrono::seconds(1);

  RaceLearning(Executor& executor, Orchestrator& orchestrator);

  // For the attempt delay: dmm-nrd's estimate of the stack's RTT (cleared when dmm-nrd is lost), else this
  // process's handshake time on it if recent, else nullopt.
  std::optional<Duration> rtt(StackIndex stack) const noexcept;
  // An attempt on `stack` connected after `handshake`.
  void connected(StackIndex stack, Duration handshake) noexcept;
  // In a race another stack won: an attempt on `stack` failed with `err` (0: not known).
  void failed(StackIndex stack, int err) noexcept;
  // In a race another stack won: an attempt on `stack` lost after `unanswered` without an answer (the rule's
  // `delay`).
  void lost(StackIndex stack, Duration unanswered, const AttemptDelay& delay) noexcept;
  // After how long unanswered an attempt on `stack` looks silent (what lost() judges by).
  Duration silent_after(StackIndex stack, const AttemptDelay& delay) const noexcept;
  // In a forked child: the parent's handshake times, as of the fork, as yardsticks of silence (not for the delay:
  // they were measured on the parent's clock). Without them the child could not tell a silent stack it never
  // reached itself from a slow one, and would pay the attempt delay on every connect there.
  void inherit(const RaceLearning& parent) noexcept;

private:
  // dmm-nrd's estimate, else the last handshake time of any age.
  std::optional<Duration> yardstick(StackIndex stack) const noexcept;

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
// stayed with the parent's racer: the child starts with every stack as its policy says. Allocates nothing.
void lift_local_marks_after_fork(Orchestrator& orchestrator) noexcept;

}  // namespace dmm::preload
