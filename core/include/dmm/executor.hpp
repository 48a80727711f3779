#pragma once
// The only way the core learns the time or defers work: ns-3's scheduler in simulation, an epoll loop on hardware.
// All callbacks run on the executor's thread; the core is an actor per executor.
#include <cstdint>
#include <functional>

#include "dmm/units.hpp"

namespace dmm {

using TimerId = std::uint64_t;

class Executor {
public:
  virtual ~Executor() = default;
  virtual TimePoint now() const = 0;
  // Runs `fn` after `delay` (zero = as soon as possible, after the current callback returns).
  virtual TimerId schedule(Duration delay, std::function<void()> fn) = 0;
  // Cancelling a timer that already ran or was cancelled is a no-op.
  virtual void cancel(TimerId id) = 0;
};

}  // namespace dmm
