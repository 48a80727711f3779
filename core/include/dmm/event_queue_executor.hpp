#pragma once
// A deterministic discrete-event Executor with virtual time: used by unit tests and anywhere the core runs
// without ns-3 or a real event loop. Time advances only through run_for/run_until/run_next.
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "dmm/executor.hpp"

namespace dmm {

class EventQueueExecutor final : public Executor {
public:
  TimePoint now() const override { return now_; }
  TimerId schedule(Duration delay, std::function<void()> fn) override;
  void cancel(TimerId id) override;

  // Runs every event due at or before `until` (in time order, FIFO among equal times); time ends at `until`.
  void run_until(TimePoint until);
  void run_for(Duration d) { run_until(now_ + d); }
  // Runs the next event, if any; returns false when the queue is empty.
  bool run_next();
  std::size_t pending() const { return queue_.size(); }

private:
  // Keyed by (due time, sequence) so equal times keep their scheduling order: determinism.
  std::map<std::pair<TimePoint, TimerId>, std::function<void()>> queue_;
  std::map<TimerId, TimePoint> due_;
  TimePoint now_{0};
  TimerId next_id_ = 1;
};

}  // namespace dmm
