#pragma once
// The lab of the lwip-dpdk tests: namespace `lw` holds the veth ends lwIP drives (no kernel address on them, so
// the kernel there ignores their IP traffic), namespace `srv` the kernel peers at 10.77.N.1/24; lwIP instances
// take 10.77.N.2/24. One EpollExecutor runs everything (lwIP stacks, kernel stacks, the peers' sessions).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/host_world.hpp"
#include "dmm/kernel/kernel_stack.hpp"
#include "dmm/stack_registry.hpp"
#include "netns_lab.hpp"

namespace dmm::test {

class LwipLab {
public:
  LwipLab();  // throws std::runtime_error if the namespaces cannot be made

  // A veth pair lw:<dev> <-> srv (10.77.<n>.1/24); returns the lw-side device name. n = 0, 1, ...
  std::string add_path(int n);
  // The srv-side end of the veth whose lw-side end is `dev`.
  const std::string& peer_of(const std::string& dev) const { return peers_.at(dev); }
  // An lwip-dpdk instance on path n's device: `vdev` driver net_af_packet<n>, address 10.77.<n>.2/24.
  Result<std::unique_ptr<Stack>> lwip_stack(int n, const std::string& device,
                                           const std::map<std::string, std::string>& extra = {});
  // A kernel instance in the server namespace (the peers' side).
  std::unique_ptr<kernel::KernelStack> server_stack();
  // A plain non-blocking kernel socket (SOCK_STREAM or SOCK_DGRAM) in the server namespace, bound to 10.77.0.1:port.
  Result<kernel::UniqueFd> server_socket(int type, std::uint16_t port);

  kernel::EpollExecutor& executor() { return *executor_; }
  StackRegistry& registry() { return registry_; }
  kernel::HostWorld& world() { return *world_; }
  const std::string& lw() const { return lw_; }
  const std::string& srv() const { return srv_; }
  NetnsLab& namespaces() { return lab_; }

private:
  NetnsLab lab_;
  std::string lw_, srv_;
  std::unique_ptr<kernel::EpollExecutor> executor_;
  std::unique_ptr<kernel::HostWorld> world_;
  StackRegistry registry_;
  std::map<std::string, std::string> peers_;
};

Endpoint endpoint(const std::string& address, std::uint16_t port);

}  // namespace dmm::test
