#pragma once
// ns-3's default scheduler (MapScheduler, so the event order and the results stay the same) that reports every
// event it hands out to a RunMonitor and stops the simulator once the monitor asks: the only per-event hook ns-3
// offers, and what lets a progress line keep moving, and Ctrl-C take effect, while simulated time crawls.
#include "run/run_monitor.hpp"
#include "ns3/map-scheduler.h"

namespace dmm::sim {

class CountingScheduler final : public ns3::MapScheduler {
public:
  static ns3::TypeId GetTypeId();
  ns3::Scheduler::Event RemoveNext() override;

  // Makes the running simulator use a CountingScheduler that reports to `monitor` (which must outlive the run).
  static void install(RunMonitor& monitor);

private:
  bool set_monitor(std::uint64_t address);
  std::uint64_t monitor() const;

  RunMonitor* monitor_ = nullptr;  // set through the "Monitor" attribute (an address: ns-3 makes the object)
  bool stopping_ = false;
};

}  // namespace dmm::sim
