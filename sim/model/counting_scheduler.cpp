#include "model/counting_scheduler.hpp"

#include "ns3/nstime.h"
#include "ns3/object-factory.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

namespace dmm::sim {

NS_OBJECT_ENSURE_REGISTERED(CountingScheduler);

ns3::TypeId CountingScheduler::GetTypeId() {
  static ns3::TypeId tid =
      ns3::TypeId("dmm::sim::CountingScheduler")
          .SetParent<ns3::MapScheduler>()
          .SetGroupName("Core")
          .AddConstructor<CountingScheduler>()
          .AddAttribute("Monitor", "Address of the RunMonitor to report to.", ns3::UintegerValue(0),
                        ns3::MakeUintegerAccessor(&CountingScheduler::set_monitor, &CountingScheduler::monitor),
                        ns3::MakeUintegerChecker<std::uint64_t>());
  return tid;
}

bool CountingScheduler::set_monitor(std::uint64_t address) {
  monitor_ = reinterpret_cast<RunMonitor*>(static_cast<std::uintptr_t>(address));
  return true;
}

std::uint64_t CountingScheduler::monitor() const {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(monitor_));
}

void CountingScheduler::install(RunMonitor& monitor) {
  ns3::ObjectFactory factory;
  factory.SetTypeId(GetTypeId());
  factory.Set("Monitor", ns3::UintegerValue(reinterpret_cast<std::uintptr_t>(&monitor)));
  ns3::Simulator::SetScheduler(factory);
}

ns3::Scheduler::Event CountingScheduler::RemoveNext() {
  ns3::Scheduler::Event next = MapScheduler::RemoveNext();
  if (monitor_) {
    monitor_->events.fetch_add(1, std::memory_order_relaxed);
    monitor_->sim_ns.store(ns3::TimeStep(next.key.m_ts).GetNanoSeconds(), std::memory_order_relaxed);
    // Stop() only raises the simulator's flag: this event still runs, then Run() returns.
    if (!stopping_ && monitor_->stop.load(std::memory_order_relaxed)) {
      stopping_ = true;
      ns3::Simulator::Stop();
    }
  }
  return next;
}

}  // namespace dmm::sim
