#include "race_learning.hpp"

#include <cerrno>
#include <cstring>
#include <string>

namespace dmm::preload {

RaceLearning::RaceLearning(Executor& executor, Orchestrator& orchestrator)
    : executor_(executor),
      orchestrator_(orchestrator),
      breaker_(executor, orchestrator, CircuitBreakerConfig{}),
      handshakes_(orchestrator.stacks().size()) {}

std::optional<Duration> RaceLearning::rtt(StackIndex stack) const noexcept {
  if (auto estimate = orchestrator_.rtt_estimate(stack)) return estimate->rtt;
  if (stack >= handshakes_.size()) return std::nullopt;
  const Handshake& h = handshakes_[stack];
  if (!h.known || executor_.now() - h.at > kMaxAge) return std::nullopt;
  return h.smoothed;
}

std::optional<Duration> RaceLearning::yardstick(StackIndex stack) const noexcept {
  if (auto estimate = orchestrator_.rtt_estimate(stack)) return estimate->rtt;
  if (stack >= handshakes_.size() || !handshakes_[stack].known) return std::nullopt;
  return handshakes_[stack].smoothed;
}

void RaceLearning::connected(StackIndex stack, Duration handshake) noexcept {
  if (stack >= handshakes_.size()) return;
  Handshake& h = handshakes_[stack];
  const bool fresh = h.known && executor_.now() - h.at <= kMaxAge;
  // RFC 6298's smoothing (7/8 old, 1/8 new); an old value is replaced, not averaged with.
  h.smoothed = fresh ? (h.smoothed * 7 + handshake) / 8 : handshake;
  h.at = executor_.now();
  h.known = true;
  try {
    breaker_.note_success(stack);
  } catch (...) {
    // Out of memory while telling of a lifted mark: the mark is lifted all the same.
  }
}

void RaceLearning::failed(StackIndex stack, int err) noexcept {
  if (err != ETIMEDOUT && err != ENETUNREACH && err != EHOSTUNREACH) return;
  try {
    breaker_.note_failure(stack, make_error(err, std::strerror(err)));
  } catch (...) {
    // Out of memory: this strike is not counted.
  }
}

Duration RaceLearning::silent_after(StackIndex stack, const AttemptDelay& delay) const noexcept {
  return silence_threshold(delay, yardstick(stack), kNoEstimateLimit);
}

void RaceLearning::lost(StackIndex stack, Duration unanswered, const AttemptDelay& delay) noexcept {
  if (unanswered < silent_after(stack, delay)) return;
  try {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(unanswered).count();
    breaker_.note_failure(stack, make_error(ETIMEDOUT, "no answer within " + std::to_string(ms) + "ms (lost a race)"));
  } catch (...) {
    // Out of memory: this strike is not counted.
  }
}

void RaceLearning::inherit(const RaceLearning& parent) noexcept {
  for (std::size_t s = 0; s < handshakes_.size() && s < parent.handshakes_.size(); ++s) {
    if (!parent.handshakes_[s].known || handshakes_[s].known) continue;
    handshakes_[s].smoothed = parent.handshakes_[s].smoothed;
    handshakes_[s].at = executor_.now() - kMaxAge - std::chrono::seconds(1);  // too old for the delay
    handshakes_[s].known = true;
  }
}

void lift_local_marks_after_fork(Orchestrator& orchestrator) noexcept {
  for (StackIndex s = 0; s < orchestrator.stacks().size(); ++s)
    if (!orchestrator.locally_healthy(s)) orchestrator.set_local_health(s, true, "a forked child has its own breaker");
}

}  // namespace dmm::preload
