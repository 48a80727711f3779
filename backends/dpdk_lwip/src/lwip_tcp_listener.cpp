#include "lwip_tcp_listener.hpp"

#include "lwip_address.hpp"

namespace dmm::lwip_dpdk {

Result<std::unique_ptr<LwipTcpListener>> LwipTcpListener::create(LwipInterface& interface, Executor& executor,
                                                                 const Endpoint& on, AcceptEvents& events,
                                                                 TcpOptions options, bool v6only) {
  const bool v6 = on.address.family == IpFamily::v6;
  const bool unspecified6 = v6 && on.address == IpAddress{IpFamily::v6, {}};
  // The IPv6 any address is fine without an IPv6 address (a kernel socket binds it too; nothing arrives); a
  // specific one must be the instance's.
  if (v6 && !unspecified6 && !interface.has_ipv6())
    return make_error(EADDRNOTAVAIL, "the instance has no IPv6 address (address6:)");
  // The IPv6 any address listens on both families, as a kernel socket without IPV6_V6ONLY does.
  const bool any6 = unspecified6 && !v6only;
  tcp_pcb* pcb = tcp_new_ip_type(any6 ? IPADDR_TYPE_ANY : v6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
  if (!pcb) return make_error(ENOMEM, "lwIP has no memory for a listener");
  tcp_bind_netif(pcb, interface.raw());
  const ip_addr_t address = any6 ? ip_addr_t(*IP_ANY_TYPE) : to_lwip(on.address);
  // A server restarted at once finds its port in TIME_WAIT from the connections it closed; it sets SO_REUSEADDR
  // on its socket for that, and the daemon's listener stands for such a socket.
  ip_set_option(pcb, SOF_REUSEADDR);
  if (const err_t err = tcp_bind(pcb, &address, on.port); err != ERR_OK) {
    tcp_abort(pcb);
    return lwip_error(err, "bind " + on.to_string());
  }
  const std::uint16_t port = pcb->local_port;
  tcp_pcb* listening = tcp_listen_with_backlog(pcb, TCP_DEFAULT_LISTEN_BACKLOG);
  if (!listening) {
    tcp_abort(pcb);
    return make_error(ENOMEM, "lwIP has no memory to listen on " + on.to_string());
  }
  std::unique_ptr<LwipTcpListener> self(new LwipTcpListener(listening, interface, executor, events, options));
  self->port_ = port;
  return self;
}

LwipTcpListener::LwipTcpListener(tcp_pcb* pcb, LwipInterface& interface, Executor& executor, AcceptEvents& events,
                                 TcpOptions options)
    : pcb_(pcb), interface_(interface), executor_(executor), events_(events), options_(options) {
  tcp_arg(pcb_, this);
  tcp_accept(pcb_, &LwipTcpListener::on_accept);
}

LwipTcpListener::~LwipTcpListener() { close(); }

void LwipTcpListener::close() {
  *alive_ = false;
  if (!pcb_) return;
  tcp_arg(pcb_, nullptr);
  tcp_accept(pcb_, nullptr);
  tcp_close(pcb_);  // a listening pcb closes at once
  pcb_ = nullptr;
}

std::optional<Endpoint> LwipTcpListener::local_endpoint() const {
  if (!pcb_) return std::nullopt;
  return Endpoint{from_lwip(pcb_->local_ip), pcb_->local_port};
}

err_t LwipTcpListener::on_accept(void* arg, tcp_pcb* pcb, err_t err) {
  auto* self = static_cast<LwipTcpListener*>(arg);
  if (!self || !pcb || err != ERR_OK) return ERR_VAL;  // lwIP aborts the new pcb
  // The connection takes the pcb (callbacks set) now, so nothing lwIP does next is lost; the application gets
  // it from an executor task. If the listener closes first, the connection closes with its holder.
  auto holder = std::make_shared<std::unique_ptr<Connection>>(
      LwipTcpConnection::adopt(pcb, self->interface_, self->executor_, self->options_));
  self->executor_.schedule(Duration::zero(), [alive = self->alive_, events = &self->events_, holder] {
    if (*alive && *holder) events->on_accept(std::move(*holder));
  });
  return ERR_OK;
}

}  // namespace dmm::lwip_dpdk
