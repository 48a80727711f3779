#include "lwip_udp.hpp"

#include <algorithm>
#include <cstring>

#include "lwip_address.hpp"
#include "lwip_tcp_connection.hpp"  // lwip_error

namespace dmm::lwip_dpdk {
namespace {

// The largest UDP payload of an IPv4 datagram.
constexpr std::size_t kMaxDatagram = 65507;

LwipUdpShare::PeerKey key_of(const Endpoint& e) { return {e.address.bytes, e.port}; }

}  // namespace

bool DatagramQueue::push(const pbuf* p, const Endpoint& from) {
  if (bytes_ + p->tot_len > kMaxQueuedBytes) return false;
  Datagram datagram{std::vector<std::byte>(p->tot_len), from};
  pbuf_copy_partial(p, datagram.bytes.data(), p->tot_len, 0);
  bytes_ += datagram.bytes.size();
  datagrams_.push_back(std::move(datagram));
  return true;
}

Result<std::size_t> DatagramQueue::pop(std::span<std::byte> buffer, Endpoint* from) {
  if (datagrams_.empty()) return make_error(EAGAIN, "no datagram");
  Datagram& d = datagrams_.front();
  const std::size_t n = std::min(buffer.size(), d.bytes.size());
  if (n > 0) std::memcpy(buffer.data(), d.bytes.data(), n);
  if (from) *from = d.from;
  bytes_ -= d.bytes.size();
  datagrams_.pop_front();
  return n;
}

Status send_datagram(udp_pcb* pcb, std::span<const std::byte> data, const Endpoint* to) {
  if (data.size() > kMaxDatagram) return make_error(EMSGSIZE, "datagram of " + std::to_string(data.size()) + " bytes");
  pbuf* p = pbuf_alloc(PBUF_TRANSPORT, static_cast<u16_t>(data.size()), PBUF_RAM);
  if (!p) return make_error(ENOBUFS, "lwIP has no memory for a datagram");
  pbuf_take(p, data.data(), static_cast<u16_t>(data.size()));
  err_t err;
  if (to) {
    const ip_addr_t address = to_lwip(to->address);
    err = udp_sendto(pcb, p, &address, to->port);
  } else {
    err = udp_send(pcb, p);
  }
  pbuf_free(p);
  if (err != ERR_OK) return lwip_error(err, "send");
  return {};
}

// ---- client --------------------------------------------------------------------------------------------------

Result<std::unique_ptr<LwipUdpConnection>> LwipUdpConnection::connect(LwipInterface& interface, Executor& executor,
                                                                      const Endpoint& to) {
  if (!interface.can_reach(to.address))
    return make_error(ENETUNREACH, "no route to " + to.address.to_string() + " on this lwip-dpdk instance");
  udp_pcb* pcb = udp_new_ip_type(to.address.family == IpFamily::v6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
  if (!pcb) return make_error(ENOMEM, "lwIP has no memory for a UDP socket");
  udp_bind_netif(pcb, interface.raw());
  const ip_addr_t address = to_lwip(to.address);
  if (const err_t err = udp_connect(pcb, &address, to.port); err != ERR_OK) {
    udp_remove(pcb);
    return lwip_error(err, "connect to " + to.to_string());
  }
  std::unique_ptr<LwipUdpConnection> self(new LwipUdpConnection(pcb, interface, executor));
  self->mailbox_->post(EventMailbox::kConnected);  // UDP "connects" at once; delivered from the executor
  return self;
}

LwipUdpConnection::LwipUdpConnection(udp_pcb* pcb, LwipInterface& interface, Executor& executor)
    : pcb_(pcb), interface_(interface), mailbox_(std::make_shared<EventMailbox>(executor)) {
  udp_recv(pcb_, &LwipUdpConnection::on_recv, this);
}

LwipUdpConnection::~LwipUdpConnection() { close(); }

void LwipUdpConnection::on_recv(void* arg, udp_pcb*, pbuf* p, const ip_addr_t*, u16_t) {
  auto* self = static_cast<LwipUdpConnection*>(arg);
  if (self && self->queue_.push(p)) {
    self->metrics_.bytes_received += p->tot_len;
    self->mailbox_->post(EventMailbox::kReadable);
  }
  pbuf_free(p);
}

Result<std::size_t> LwipUdpConnection::send(std::span<const std::byte> data) {
  if (!pcb_) return make_error(EBADF, "send on a closed connection");
  if (write_shut_) return make_error(EPIPE, "send after shutdown_write");
  if (Status s = send_datagram(pcb_, data, nullptr); !s) return s.error();
  metrics_.bytes_sent += data.size();
  metrics_.bytes_acked = metrics_.bytes_sent;
  ++metrics_.segments_sent;
  return data.size();
}

Result<std::size_t> LwipUdpConnection::receive(std::span<std::byte> buffer) {
  if (!pcb_) return make_error(EBADF, "receive on a closed connection");
  return queue_.pop(buffer);
}

void LwipUdpConnection::close() {
  mailbox_->close();
  if (!pcb_) return;
  udp_recv(pcb_, nullptr, nullptr);
  udp_remove(pcb_);
  pcb_ = nullptr;
}

std::optional<Endpoint> LwipUdpConnection::local_endpoint() const {
  if (!pcb_) return std::nullopt;
  return Endpoint{from_lwip(pcb_->local_ip), pcb_->local_port};
}

// ---- server --------------------------------------------------------------------------------------------------

LwipUdpPeerConnection::LwipUdpPeerConnection(std::shared_ptr<LwipUdpShare> share, const Endpoint& peer,
                                             LwipInterface& interface, Executor& executor)
    : share_(std::move(share)), peer_(peer), interface_(interface), mailbox_(std::make_shared<EventMailbox>(executor)) {
  share_->peers[key_of(peer_)] = this;
  mailbox_->post(EventMailbox::kConnected);
}

LwipUdpPeerConnection::~LwipUdpPeerConnection() { close(); }

void LwipUdpPeerConnection::deliver(const pbuf* p) {
  if (closed_ || !queue_.push(p)) return;
  metrics_.bytes_received += p->tot_len;
  mailbox_->post(EventMailbox::kReadable);
}

Result<std::size_t> LwipUdpPeerConnection::send(std::span<const std::byte> data) {
  if (closed_) return make_error(EBADF, "send on a closed connection");
  if (write_shut_) return make_error(EPIPE, "send after shutdown_write");
  if (!share_->pcb) return make_error(EBADF, "the listener of this UDP session is closed");
  if (Status s = send_datagram(share_->pcb, data, &peer_); !s) return s.error();
  metrics_.bytes_sent += data.size();
  metrics_.bytes_acked = metrics_.bytes_sent;
  ++metrics_.segments_sent;
  return data.size();
}

Result<std::size_t> LwipUdpPeerConnection::receive(std::span<std::byte> buffer) {
  if (closed_) return make_error(EBADF, "receive on a closed connection");
  return queue_.pop(buffer);
}

void LwipUdpPeerConnection::close() {
  if (closed_) return;
  closed_ = true;
  mailbox_->close();
  share_->peers.erase(key_of(peer_));
}

Result<std::unique_ptr<LwipUdpListener>> LwipUdpListener::create(LwipInterface& interface, Executor& executor,
                                                                 const Endpoint& on, AcceptEvents& events) {
  const bool v6 = on.address.family == IpFamily::v6;
  if (v6 && !interface.has_ipv6()) return make_error(EADDRNOTAVAIL, "the instance has no IPv6 address (address6:)");
  udp_pcb* pcb = udp_new_ip_type(v6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
  if (!pcb) return make_error(ENOMEM, "lwIP has no memory for a UDP socket");
  udp_bind_netif(pcb, interface.raw());
  const ip_addr_t address = to_lwip(on.address);
  if (const err_t err = udp_bind(pcb, &address, on.port); err != ERR_OK) {
    udp_remove(pcb);
    return lwip_error(err, "bind " + on.to_string());
  }
  auto share = std::make_shared<LwipUdpShare>();
  share->pcb = pcb;
  std::unique_ptr<LwipUdpListener> self(new LwipUdpListener(std::move(share), interface, executor, events));
  udp_recv(pcb, &LwipUdpListener::on_recv, self.get());
  return self;
}

LwipUdpListener::LwipUdpListener(std::shared_ptr<LwipUdpShare> share, LwipInterface& interface, Executor& executor,
                                 AcceptEvents& events)
    : share_(std::move(share)), interface_(interface), executor_(executor), events_(events) {}

LwipUdpListener::~LwipUdpListener() { close(); }

void LwipUdpListener::close() {
  *alive_ = false;
  if (!share_->pcb) return;
  udp_recv(share_->pcb, nullptr, nullptr);
  udp_remove(share_->pcb);
  share_->pcb = nullptr;
}

void LwipUdpListener::on_recv(void* arg, udp_pcb*, pbuf* p, const ip_addr_t* address, u16_t port) {
  auto* self = static_cast<LwipUdpListener*>(arg);
  if (self) {
    const Endpoint peer{from_lwip(*address), port};
    const auto it = self->share_->peers.find(key_of(peer));
    if (it != self->share_->peers.end()) {
      it->second->deliver(p);
    } else {
      auto holder = std::make_shared<std::unique_ptr<Connection>>(
          std::make_unique<LwipUdpPeerConnection>(self->share_, peer, self->interface_, self->executor_));
      static_cast<LwipUdpPeerConnection*>(holder->get())->deliver(p);
      self->executor_.schedule(Duration::zero(), [alive = self->alive_, events = &self->events_, holder] {
        if (*alive && *holder) events->on_accept(std::move(*holder));
      });
    }
  }
  pbuf_free(p);
}

}  // namespace dmm::lwip_dpdk
