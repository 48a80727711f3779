#pragma once
// The core's Executor on top of ns-3's scheduler: the core reads simulated time and defers work on simulated time,
// so the code that runs on an epoll loop on hardware runs unchanged, and deterministically, inside a simulation.
#include <cstddef>
#include <functional>
#include <unordered_map>

#include "dmm/executor.hpp"
#include "ns3/event-id.h"

namespace dmm::sim {

class Ns3Executor final : public Executor {
public:
  Ns3Executor() = default;
  Ns3Executor(const Ns3Executor&) = delete;
  Ns3Executor& operator=(const Ns3Executor&) = delete;
  // Cancels every timer still pending: their callbacks belong to objects that die with this executor's owner.
  ~Ns3Executor() override;

  TimePoint now() const override;
  // A negative delay is treated as zero (ns-3 refuses to schedule into the past).
  TimerId schedule(Duration delay, std::function<void()> fn) override;
  void cancel(TimerId id) override;

  // Timers scheduled and neither run nor cancelled yet; stays bounded over a long run.
  std::size_t pending() const { return timers_.size(); }

private:
  struct Timer {
    ns3::EventId event;
    std::function<void()> fn;
  };
  void fire(TimerId id);

  TimerId next_id_ = 1;  // 0 is never handed out, so callers may use it to mean "no timer"
  std::unordered_map<TimerId, Timer> timers_;
};

}  // namespace dmm::sim
