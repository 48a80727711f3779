#pragma once
// A window into a running simulation for another thread (dmm-sim's progress line, its Ctrl-C handler): the
// simulation publishes how far it got after every event, and stops at the next event once asked to. Atomics only,
// so a signal handler may set `stop` and a thread may read the rest while ns-3 runs. No ns-3 here.
#include <atomic>
#include <cstdint>

namespace dmm::sim {

struct RunMonitor {
  std::atomic<std::uint64_t> events{0};  // simulator events executed so far (progress ticks included)
  std::atomic<std::int64_t> sim_ns{0};   // simulated time of the latest event
  std::atomic<bool> stop{false};         // set: the run ends after the current event, with partial results
  static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
};

}  // namespace dmm::sim
