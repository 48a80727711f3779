#pragma once
// DPDK's Environment Abstraction Layer, once per process. EAL is process-wide state that DPDK itself refuses to
// initialise twice, so this is the one singleton of the backend: the first stack that needs DPDK initialises it,
// every later one shares it. Set up for this kind of host: no hugepages, no PCI scan, private runtime files
// (--no-shconf and a file prefix unique to the process, so concurrent programs never meet; the empty runtime
// directory EAL makes anyway is removed at once, so none outlives its process), and the calling
// thread's CPU affinity restored afterwards (EAL would pin it to one core).
#include <cstddef>
#include <string>

#include "dmm/result.hpp"

namespace dmm::lwip_dpdk {

class DpdkEnvironment {
public:
  // Initialises EAL on the first call (EINVAL-style error naming what EAL refused), or returns the same
  // environment. `memory_mb` (-m) is used by the first call only.
  static Result<DpdkEnvironment*> get(std::size_t memory_mb = 256);

  // What DPDK logged since the last call (its last lines, bounded), and forgets it. DPDK's log never goes to the
  // process's stderr — inside a program under the preload shim that stream is the program's — but into error
  // messages that need it ("ioctl failed (SIOCGIFINDEX): No such device" says more than an errno).
  static std::string take_log();

private:
  DpdkEnvironment() = default;
};

}  // namespace dmm::lwip_dpdk
