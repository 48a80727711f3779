#pragma once
// One process drives an interface. Two user-space stacks on one veth — two programs each running lwIP on it, or a
// program next to dmm-stackd — both see every frame (af_packet hands each to every socket) and each answers the
// other's TCP segments with a reset: downloads die at random. So an instance claims the interfaces its vdev names
// (an flock on /run/dmm/lwip/NETNS-INODE.IFACE.lock, holding its pid), and a second claim fails at once, naming
// the holder and what to do instead. The lock goes with the process (or its last fd), never left stale; an instance
// that stops removes its lock file (while it still holds the lock; a claimer checks that the file it locked is still
// the one at the path), so that instances on ever new namespaces leave nothing behind.
#include <string>
#include <vector>

#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"

namespace dmm::lwip_dpdk {

class InterfaceClaim {
public:
  // Claims every interface `vdev` names (iface=, rx_iface=, tx_iface=) in namespace `netns_path` ("" = this
  // process's). EBUSY naming the holding process if one is taken; nothing claimed for a vdev without interfaces
  // (net_null) or where /run/dmm cannot be written (such a process cannot run DPDK ports on interfaces anyway).
  static Result<InterfaceClaim> claim(const std::string& vdev, const std::string& netns_path);
  InterfaceClaim() = default;
  InterfaceClaim(InterfaceClaim&&) noexcept = default;
  InterfaceClaim& operator=(InterfaceClaim&& other) noexcept;
  ~InterfaceClaim();  // removes the lock files, then lets go of the locks

private:
  void release();
  struct Lock {
    std::string path;
    kernel::UniqueFd fd;
  };
  std::vector<Lock> locks_;
};

}  // namespace dmm::lwip_dpdk
