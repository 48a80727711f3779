#pragma once
// One lwip-dpdk stack instance: a DPDK port, its lwIP netif, and a poller on the world's loop that moves frames.
// Connections and listeners made by the instance must be closed before it is destroyed.
#include <memory>

#include "dmm/lwip_dpdk/lwip_dpdk_stack_kind.hpp"
#include "dmm/stack.hpp"
#include "lwip_core.hpp"
#include "interface_claim.hpp"
#include "lwip_interface.hpp"
#include "lwip_tcp_connection.hpp"

namespace dmm::lwip_dpdk {

class LwipDpdkStack final : public Stack {
public:
  // Initialises EAL (first instance of the process), probes the vdev (from `netns` if given), adds the netif,
  // and starts polling. Errors name the stack and the vdev; a failing instance leaves others untouched.
  static Result<std::unique_ptr<LwipDpdkStack>> create(const LwipDpdkConfig& config, StackWorld& world);
  ~LwipDpdkStack() override;
  LwipDpdkStack(const LwipDpdkStack&) = delete;
  LwipDpdkStack& operator=(const LwipDpdkStack&) = delete;

  const StackInfo& info() const override { return info_; }
  // TCP or UDP to an IPv4 destination this instance can reach (its subnet, or any with a gateway); otherwise
  // ENETUNREACH at once, as a kernel without a route answers.
  Result<std::unique_ptr<Connection>> connect(const Endpoint& to, L4Proto proto, ConnectionEvents& events) override;
  Result<std::unique_ptr<Listener>> listen(const Endpoint& on, L4Proto proto, AcceptEvents& events) override;
  Result<std::unique_ptr<Listener>> listen(const Endpoint& on, L4Proto proto, AcceptEvents& events,
                                           const ListenOptions& options) override;
  // A pcb of this instance still sends data, or its FIN is not acknowledged yet.
  Result<std::unique_ptr<DatagramSocket>> open_datagram(const DatagramOptions& options,
                                                        ConnectionEvents& events) override;
  bool delivering() const override;

  const LwipInterface& interface() const { return *interface_; }
  // lwIP's link state of the instance's netif (set_lwip_dpdk_link).
  void set_link(bool up);

private:
  LwipDpdkStack(StackInfo info, LwipCore& core, StackWorld& world);

  StackInfo info_;
  LwipCore& core_;
  StackWorld& world_;
  std::unique_ptr<InterfaceClaim> claim_;  // released after the port closes (members go in reverse order)
  std::unique_ptr<LwipInterface> interface_;
  std::optional<StackWorld::PollerId> poller_;
  TcpOptions tcp_options_;
};

}  // namespace dmm::lwip_dpdk
