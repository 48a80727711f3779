#include "dmm/circuit_breaker.hpp"

#include <algorithm>
#include <string>

#include "dmm/units.hpp"

namespace dmm {

CircuitBreaker::CircuitBreaker(Executor& executor, Orchestrator& orchestrator, CircuitBreakerConfig config)
    : executor_(executor),
      orchestrator_(orchestrator),
      config_(config),
      failures_(orchestrator.stacks().size(), 0),
      retry_timers_(orchestrator.stacks().size(), 0) {}

CircuitBreaker::~CircuitBreaker() {
  for (TimerId t : retry_timers_) executor_.cancel(t);
}

void CircuitBreaker::note_success(StackIndex stack) {
  if (stack >= failures_.size()) return;
  if (failures_[stack] >= config_.failure_threshold) {
    executor_.cancel(retry_timers_[stack]);
    retry_timers_[stack] = 0;
    orchestrator_.set_local_health(stack, true, "a set-up succeeded");
  }
  failures_[stack] = 0;
}

void CircuitBreaker::note_failure(StackIndex stack, const Error& error) {
  if (stack >= failures_.size()) return;
  if (++failures_[stack] < config_.failure_threshold) return;
  // The retry first: a mark must never outlive its timer (if scheduling fails, nothing is marked).
  const std::string why =
      std::to_string(failures_[stack]) + " set-up failures in a row; the last: " + error.message;
  const TimerId previous = retry_timers_[stack];
  retry_timers_[stack] = executor_.schedule(config_.retry_after, [this, stack] {
    retry_timers_[stack] = 0;
    failures_[stack] = 0;
    orchestrator_.set_local_health(stack, true, "retry after " + format_duration(config_.retry_after));
  });
  executor_.cancel(previous);  // after: if scheduling fails, the mark in force keeps its timer
  orchestrator_.set_local_health(stack, false, why);
}

bool looks_silent(Duration unanswered, const AttemptDelay& delay, std::optional<Duration> rtt,
                  Duration no_estimate_limit) {
  return unanswered >= silence_threshold(delay, rtt, no_estimate_limit);
}

Duration silence_threshold(const AttemptDelay& delay, std::optional<Duration> rtt, Duration no_estimate_limit) {
  if (rtt) return std::max(resolve_attempt_delay(delay, rtt), *rtt * 4);
  return no_estimate_limit;
}

}  // namespace dmm
