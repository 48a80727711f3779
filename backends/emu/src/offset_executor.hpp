#pragma once
// The run's clock: the epoll loop's, counted from the run's time zero (when the link emulator starts), so that
// session times, events and expectations read as in dmm-sim, whatever the set-up before it took.
#include "dmm/executor.hpp"

namespace dmm::emu {

class OffsetExecutor final : public Executor {
public:
  explicit OffsetExecutor(Executor& inner) : inner_(inner), origin_(inner.now()) {}
  void restart() { origin_ = inner_.now(); }  // time zero is now
  TimePoint now() const override { return TimePoint(inner_.now() - origin_); }
  TimerId schedule(Duration delay, std::function<void()> fn) override { return inner_.schedule(delay, std::move(fn)); }
  void cancel(TimerId id) override { inner_.cancel(id); }

private:
  Executor& inner_;
  TimePoint origin_;
};

}  // namespace dmm::emu
