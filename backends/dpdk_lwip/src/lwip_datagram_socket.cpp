#include "lwip_datagram_socket.hpp"

#include <algorithm>

#include "lwip_address.hpp"
#include "lwip_tcp_connection.hpp"  // lwip_error

namespace dmm::lwip_dpdk {
namespace {

bool is_any(const IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](std::uint8_t b) { return b == 0; });
}

// Whether a UDP socket of the instance already holds `port` for the family (or families) `type` would take: Linux's
// rule, under which 0.0.0.0:53 and an IPV6_V6ONLY [::]:53 coexist (servers such as dnsmasq open both) while lwIP's
// own check refuses the second whenever either address is an any address.
bool port_taken(const netif* n, u16_t port, u8_t type) {
  const u8_t index = netif_get_index(n);
  for (const udp_pcb* pcb = udp_pcbs; pcb; pcb = pcb->next) {
    if (pcb->local_port != port || pcb->netif_idx != index) continue;
    const u8_t other = IP_GET_TYPE(&pcb->local_ip);
    if (other == IPADDR_TYPE_ANY || type == IPADDR_TYPE_ANY || other == type) return true;
  }
  return false;
}

}  // namespace

Result<std::unique_ptr<LwipDatagramSocket>> LwipDatagramSocket::open(LwipInterface& interface, Executor& executor,
                                                                     const DatagramOptions& options,
                                                                     ConnectionEvents& events) {
  const IpAddress& local = options.local.address;
  const bool v6 = local.family == IpFamily::v6;
  // The IPv6 any address binds without an IPv6 address too, as on Linux (dnsmasq opens [::]:53 beside 0.0.0.0:53
  // everywhere): such a socket just never receives IPv6.
  if (!is_any(local) && local != interface.address() && local != interface.address6())
    return make_error(EADDRNOTAVAIL, local.to_string() + " is not an address of this instance");
  for (const std::optional<Endpoint>* to : {&options.peer, &options.first_destination}) {
    if (!*to) continue;
    if ((*to)->address.family == IpFamily::v6 && !interface.has_ipv6())
      return make_error(ENETUNREACH, "the instance has no IPv6 address (address6:)");
    if (!interface.can_reach((*to)->address))
      return make_error(ENETUNREACH, "no route to " + (*to)->address.to_string() + " on this lwip-dpdk instance");
  }
  // The IPv6 any address without IPV6_V6ONLY takes both families, as a Linux socket does.
  const bool both = v6 && is_any(local) && !options.v6only && !options.peer;
  udp_pcb* pcb = udp_new_ip_type(both ? IPADDR_TYPE_ANY : v6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
  if (!pcb) return make_error(ENOMEM, "lwIP has no memory for a UDP socket");
  udp_bind_netif(pcb, interface.raw());
  const ip_addr_t address = both ? *IP_ANY_TYPE : to_lwip(local);
  if (options.local.port != 0) {
    if (port_taken(interface.raw(), options.local.port, IP_GET_TYPE(&address))) {
      udp_remove(pcb);
      return make_error(EADDRINUSE, "UDP port " + std::to_string(options.local.port) + " is in use on this instance");
    }
    ip_set_option(pcb, SOF_REUSEADDR);  // checked above, by the family rule lwIP lacks
  }
  if (const err_t err = udp_bind(pcb, &address, options.local.port); err != ERR_OK) {
    udp_remove(pcb);
    return lwip_error(err, "bind " + options.local.to_string());
  }
  if (options.peer) {
    const ip_addr_t peer = to_lwip(options.peer->address);
    if (const err_t err = udp_connect(pcb, &peer, options.peer->port); err != ERR_OK) {
      udp_remove(pcb);
      return lwip_error(err, "connect to " + options.peer->to_string());
    }
  }
  std::unique_ptr<LwipDatagramSocket> self(new LwipDatagramSocket(pcb, interface, executor));
  // The address it sends from: a connected pcb's is chosen by lwIP's route, else the one asked for (or any).
  self->local_ = Endpoint{options.peer ? from_lwip(pcb->local_ip) : local, pcb->local_port};
  if (options.peer && is_any(self->local_.address))
    self->local_.address = options.peer->address.family == IpFamily::v6 ? *interface.address6() : interface.address();
  self->set_events(events);
  return self;
}

LwipDatagramSocket::LwipDatagramSocket(udp_pcb* pcb, LwipInterface& interface, Executor& executor)
    : pcb_(pcb), interface_(interface), mailbox_(std::make_shared<EventMailbox>(executor)) {
  udp_recv(pcb_, &LwipDatagramSocket::on_recv, this);
}

LwipDatagramSocket::~LwipDatagramSocket() { close(); }

void LwipDatagramSocket::on_recv(void* arg, udp_pcb*, pbuf* p, const ip_addr_t* address, u16_t port) {
  auto* self = static_cast<LwipDatagramSocket*>(arg);
  if (self && self->queue_.push(p, Endpoint{from_lwip(*address), port})) {
    self->metrics_.bytes_received += p->tot_len;
    self->mailbox_->post(EventMailbox::kReadable);
  }
  pbuf_free(p);
}

Status LwipDatagramSocket::send_to(const Endpoint& to, std::span<const std::byte> data) {
  if (!pcb_) return make_error(EBADF, "send on a closed socket");
  if (to.address.family == IpFamily::v6 && !interface_.has_ipv6())
    return make_error(ENETUNREACH, "the instance has no IPv6 address (address6:)");
  if (!interface_.can_reach(to.address))
    return make_error(ENETUNREACH, "no route to " + to.address.to_string() + " on this lwip-dpdk instance");
  if (Status s = send_datagram(pcb_, data, &to); !s) return s;
  metrics_.bytes_sent += data.size();
  metrics_.bytes_acked = metrics_.bytes_sent;
  ++metrics_.segments_sent;
  return {};
}

Result<DatagramSocket::Received> LwipDatagramSocket::receive_from(std::span<std::byte> buffer) {
  if (!pcb_) return make_error(EBADF, "receive on a closed socket");
  Received got;
  auto n = queue_.pop(buffer, &got.from);
  if (!n) return n.error();
  got.size = *n;
  return got;
}

void LwipDatagramSocket::close() {
  mailbox_->close();
  if (!pcb_) return;
  udp_recv(pcb_, nullptr, nullptr);
  udp_remove(pcb_);
  pcb_ = nullptr;
}

}  // namespace dmm::lwip_dpdk
