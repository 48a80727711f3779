#pragma once
// A scenario's links emulated in real time by ns-3, between real network namespaces (dmm-emu, DESIGN.md §2.6).
// Each link is the same Ns3Link dmm-sim uses (rate, delay, loss, drop-tail queue, changed by the same events),
// between two ns-3 nodes; each of those nodes also has an FdNetDevice on an AF_PACKET socket of a veth whose other
// end is in a real namespace, and routes between the two. The simulator runs on ns-3's RealtimeSimulatorImpl. No
// ns-3 types here: dmm-linkemu includes it.
#include <memory>

#include "run/link_emulation_spec.hpp"

namespace dmm::sim::emu {

using dmm::emu::EmulatorSpec;
using dmm::emu::EmulatorStats;

class LinkEmulator {
public:
  // Opens the packet sockets (the calling process must be in the emulator's namespace) and builds the ns-3 world.
  static Result<std::unique_ptr<LinkEmulator>> create(const EmulatorSpec& spec);
  ~LinkEmulator();
  // Runs in real time for the spec's duration (link events at their times), then returns what the links did.
  EmulatorStats run();

  class World;

private:
  explicit LinkEmulator(std::unique_ptr<World> world);
  std::unique_ptr<World> world_;
};

}  // namespace dmm::sim::emu
