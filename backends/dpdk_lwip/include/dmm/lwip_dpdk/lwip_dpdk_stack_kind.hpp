#pragma once
// The `lwip-dpdk` stack kind: a user-space TCP/IP stack instance, lwIP 2.1.3 (built from Debian's source package
// with DMM's options) driven by frame bursts from a port made from a vdev: `net_af_packet` on a veth for real peers
// (DMM's own AF_PACKET port), `net_af_xdp`/`net_pcap` (DPDK 22.11 ethdev), `net_null` for TX benchmarks.
// Parameters (DESIGN.md §2.5): `vdev` (DPDK's --vdev syntax), `address` (IPv4 ADDRESS/LENGTH),
// `gateway` (optional), `netns` (optional: the namespace the vdev's interface is in; default the program's),
// `user_timeout` (optional duration, default 30s: sent data unacknowledged this long fails the connection).
//
// Instances need a world with a polling loop (StackWorld::add_poller; the kernel backend's EpollExecutor), and
// all instances of a process share one loop: lwIP is one stack per process. No DPDK or lwIP header here.
#include <optional>
#include <string>
#include <vector>

#include "dmm/address.hpp"
#include "dmm/stack_registry.hpp"
#include "dmm/units.hpp"

namespace dmm::lwip_dpdk {

struct LwipDpdkConfig {
  StackId name;
  std::string vdev;
  IpAddress address;
  std::uint8_t prefix_length = 24;
  std::optional<IpAddress> gateway;
  // IPv6 next to IPv4 (optional): a static address (no duplicate address detection); on-link peers only (lwIP
  // 2.1 takes IPv6 routers from router advertisements alone).
  std::optional<IpAddress> address6;
  std::uint8_t prefix_length6 = 64;
  std::optional<std::string> netns;
  Duration user_timeout = std::chrono::seconds(30);
};

std::vector<std::string> lwip_dpdk_stack_params();
// Checks and types the parameters; errors name the stack and the parameter.
Result<LwipDpdkConfig> parse_lwip_dpdk_config(const StackConfig& config);

Status register_lwip_dpdk_stack_kind(StackRegistry& registry);

// Frames the instance's DPDK port has handed to its driver so far; nullopt if `stack` is not an lwip-dpdk
// instance. For benchmarks: what really left, not what the application was told was sent.
std::optional<std::uint64_t> lwip_dpdk_frames_sent(const Stack& stack);

// Tells an lwip-dpdk instance that its link went down or came back (lwIP's netif link state). While down, new
// connections are refused at once with ENETUNREACH, as a kernel refuses them on an interface that is down; open
// ones stall, as they would there. For ports that never report their link (net_af_packet's is always up), the
// owner of the interface says it: dmm-emu when it takes a veth down. ENOTSUP if `stack` is not lwip-dpdk.
Status set_lwip_dpdk_link(Stack& stack, bool up);

}  // namespace dmm::lwip_dpdk
