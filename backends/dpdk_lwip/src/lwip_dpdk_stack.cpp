#include "lwip_dpdk_stack.hpp"

#include <lwip/priv/tcp_priv.h>

#include "frame_port.hpp"
#include "interface_claim.hpp"
#include "lwip_tcp_listener.hpp"
#include "lwip_datagram_socket.hpp"
#include "lwip_udp.hpp"

namespace dmm::lwip_dpdk {

Result<std::unique_ptr<LwipDpdkStack>> LwipDpdkStack::create(const LwipDpdkConfig& config, StackWorld& world) {
  auto named = [&](const Error& e) { return make_error(e.code, "stack '" + config.name + "': " + e.message); };
  auto core = LwipCore::attach(world.executor());
  if (!core) return named(core.error());
  StackInfo info{config.name, "lwip-dpdk",
                 StackCapabilities{.tcp = true, .udp = true, .ipv6 = config.address6.has_value()}};
  // From here the stack owns its share of lwIP: its destructor detaches, also on the error paths below.
  std::unique_ptr<LwipDpdkStack> self(new LwipDpdkStack(std::move(info), **core, world));
  self->tcp_options_.user_timeout = config.user_timeout;
  const std::string netns_path = config.netns ? "/run/netns/" + *config.netns : "";
  auto claim = InterfaceClaim::claim(config.vdev, netns_path);  // before DPDK touches the interface
  if (!claim) return named(claim.error());
  self->claim_ = std::make_unique<InterfaceClaim>(std::move(*claim));
  auto port = open_frame_port(config.vdev, netns_path);
  if (!port) return named(port.error());
  auto interface =
      LwipInterface::create(std::move(*port), config.address, config.prefix_length, config.gateway, world.executor());
  if (!interface) return named(interface.error());
  self->interface_ = std::move(*interface);
  if (config.address6)
    if (Status s = self->interface_->add_ipv6(*config.address6, config.prefix_length6); !s) return s.error();
  auto poller = world.add_poller([stack = self.get()] { return stack->interface_->poll(); },
                                 self->interface_->port().wake_fd());
  if (!poller) return named(poller.error());
  self->poller_ = *poller;
  return self;
}

LwipDpdkStack::LwipDpdkStack(StackInfo info, LwipCore& core, StackWorld& world)
    : info_(std::move(info)), core_(core), world_(world) {}

LwipDpdkStack::~LwipDpdkStack() {
  if (poller_) world_.remove_poller(*poller_);
  interface_.reset();
  core_.detach();
}

Result<std::unique_ptr<Connection>> LwipDpdkStack::connect(const Endpoint& to, L4Proto proto,
                                                           ConnectionEvents& events) {
  if (to.address.family == IpFamily::v6 && !interface_->has_ipv6())
    return make_error(ENETUNREACH, "stack '" + info_.id + "' has no IPv6 address (address6:)");
  if (!netif_is_link_up(interface_->raw()))
    return make_error(ENETUNREACH, "stack '" + info_.id + "': its link is down");
  std::unique_ptr<Connection> connection;
  if (proto == L4Proto::tcp) {
    auto made = LwipTcpConnection::connect(*interface_, core_.executor(), to, tcp_options_);
    if (!made) return made.error();
    connection = std::move(*made);
  } else {
    auto made = LwipUdpConnection::connect(*interface_, core_.executor(), to);
    if (!made) return made.error();
    connection = std::move(*made);
  }
  connection->set_events(events);
  return connection;
}

Result<std::unique_ptr<DatagramSocket>> LwipDpdkStack::open_datagram(const DatagramOptions& options,
                                                                     ConnectionEvents& events) {
  if (!netif_is_link_up(interface_->raw())) return make_error(ENETUNREACH, "stack '" + info_.id + "': its link is down");
  auto made = LwipDatagramSocket::open(*interface_, core_.executor(), options, events);
  if (!made) return made.error();
  return std::unique_ptr<DatagramSocket>(std::move(*made));
}

void LwipDpdkStack::set_link(bool up) {
  if (up)
    netif_set_link_up(interface_->raw());
  else
    netif_set_link_down(interface_->raw());
}

bool LwipDpdkStack::delivering() const {
  const u8_t index = netif_get_index(interface_->raw());
  for (const tcp_pcb* pcb = tcp_active_pcbs; pcb; pcb = pcb->next) {
    if (pcb->netif_idx != index) continue;
    if (pcb->unsent || pcb->unacked || pcb->state == FIN_WAIT_1 || pcb->state == CLOSING || pcb->state == LAST_ACK)
      return true;
  }
  return false;
}

Result<std::unique_ptr<Listener>> LwipDpdkStack::listen(const Endpoint& on, L4Proto proto, AcceptEvents& events) {
  return listen(on, proto, events, ListenOptions{});
}

Result<std::unique_ptr<Listener>> LwipDpdkStack::listen(const Endpoint& on, L4Proto proto, AcceptEvents& events,
                                                        const ListenOptions& options) {
  if (proto == L4Proto::tcp) {
    auto made = LwipTcpListener::create(*interface_, core_.executor(), on, events, tcp_options_, options.v6only);
    if (!made) return made.error();
    return std::unique_ptr<Listener>(std::move(*made));
  }
  auto made = LwipUdpListener::create(*interface_, core_.executor(), on, events);
  if (!made) return made.error();
  return std::unique_ptr<Listener>(std::move(*made));
}

}  // namespace dmm::lwip_dpdk
