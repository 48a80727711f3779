#pragma once
// This node's circuit breaker: consecutive set-up failures of a stack mark it down in the orchestrator
// (set_local_health), so that new sessions are steered away from it even while nRD is gone; it gets another
// chance after `retry_after`, or at once when a set-up on it succeeds. nSocket feeds one (simulation, emulation,
// C++ users), the preload shim's racer another (each process under dmm-run has its own).
//
// Not thread-safe: every call, and the retry timers, on the executor's thread.
#include <cstdint>
#include <optional>
#include <vector>

#include "dmm/executor.hpp"
#include "dmm/orchestrator.hpp"
#include "dmm/policy.hpp"
#include "dmm/result.hpp"

namespace dmm {

struct CircuitBreakerConfig {
  std::uint32_t failure_threshold = 2;  // this many failures in a row mark a stack down ...
  Duration retry_after = std::chrono::seconds(5);  // ... for this long
};

class CircuitBreaker {
public:
  CircuitBreaker(Executor& executor, Orchestrator& orchestrator, CircuitBreakerConfig config);
  ~CircuitBreaker();  // cancels the retry timers
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // A set-up on `stack` succeeded: its failures are forgotten, and a mark of ours is lifted.
  void note_success(StackIndex stack);
  // A set-up on `stack` failed (or looked silent: looks_silent); `error` is named in the health change.
  void note_failure(StackIndex stack, const Error& error);

private:
  Executor& executor_;
  Orchestrator& orchestrator_;
  CircuitBreakerConfig config_;
  std::vector<std::uint32_t> failures_;  // consecutive, per stack index
  std::vector<TimerId> retry_timers_;
};

// Whether an attempt that lost a race after `unanswered` without an answer looks silent rather than slower (a
// strike for the breaker): four of the stack's round trips and at least its attempt delay; without an RTT
// estimate there is no yardstick but `no_estimate_limit` (nSocket's connect_timeout). Why four: a path that merely
// got slower, with the estimate lagging, answers within that (quickstart's jump from 20 to 400 ms: estimate 155 ms,
// answers at 390 ms).
bool looks_silent(Duration unanswered, const AttemptDelay& delay, std::optional<Duration> rtt,
                  Duration no_estimate_limit);
// How long unanswered that is (looks_silent(u, ...) == u >= silence_threshold(...)).
Duration silence_threshold(const AttemptDelay& delay, std::optional<Duration> rtt, Duration no_estimate_limit);

}  // namespace dmm
