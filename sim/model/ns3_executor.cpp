#include "model/ns3_executor.hpp"

#include <utility>

#include "ns3/nstime.h"
#include "ns3/simulator.h"

namespace dmm::sim {

Ns3Executor::~Ns3Executor() {
  for (auto& [id, timer] : timers_) ns3::Simulator::Cancel(timer.event);
}

TimePoint Ns3Executor::now() const { return TimePoint(ns3::Simulator::Now().GetNanoSeconds()); }

TimerId Ns3Executor::schedule(Duration delay, std::function<void()> fn) {
  const TimerId id = next_id_++;
  const auto ns = delay.count() > 0 ? delay.count() : 0;
  // The event holds only the id: the callback lives in the map, so a cancelled timer frees it at once.
  const ns3::EventId event = ns3::Simulator::Schedule(ns3::NanoSeconds(ns), [this, id] { fire(id); });
  timers_.emplace(id, Timer{event, std::move(fn)});
  return id;
}

void Ns3Executor::cancel(TimerId id) {
  const auto it = timers_.find(id);
  if (it == timers_.end()) return;  // already ran or cancelled
  ns3::Simulator::Cancel(it->second.event);
  timers_.erase(it);
}

void Ns3Executor::fire(TimerId id) {
  const auto it = timers_.find(id);
  if (it == timers_.end()) return;
  // Erase before running: the callback may schedule or cancel timers, and the entry must not outlive its event.
  std::function<void()> fn = std::move(it->second.fn);
  timers_.erase(it);
  fn();
}

}  // namespace dmm::sim
