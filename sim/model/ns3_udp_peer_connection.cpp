#include "model/ns3_udp_peer_connection.hpp"

#include <algorithm>
#include <cerrno>
#include <vector>

#include "model/ns3_socket_util.hpp"
#include "ns3/simulator.h"

namespace dmm::sim {
namespace {

TimePoint sim_now() { return TimePoint(ns3::Simulator::Now().GetNanoSeconds()); }

Ns3UdpShare::PeerKey key_of(const ns3::InetSocketAddress& a) { return {a.GetIpv4().Get(), a.GetPort()}; }

}  // namespace

Ns3UdpPeerConnection::Ns3UdpPeerConnection(std::shared_ptr<Ns3UdpShare> share, const ns3::InetSocketAddress& peer,
                                           Ns3ConnectionOptions options)
    : share_(std::move(share)), peer_(peer), options_(std::move(options)) {
  share_->peers[key_of(peer_)] = this;
  token_ = options_.stack->add(*this);
}

Ns3UdpPeerConnection::~Ns3UdpPeerConnection() { close(); }

void Ns3UdpPeerConnection::deliver_datagram(const ns3::Packet& datagram) {
  if (closed_ || error_) return;
  std::vector<std::byte> bytes(datagram.GetSize());
  datagram.CopyData(reinterpret_cast<std::uint8_t*>(bytes.data()), datagram.GetSize());
  const Duration delay = options_.processing_delay;
  inbox_.push(std::move(bytes), sim_now() + delay);
  if (delay.count() == 0) {
    notify_readable();
    return;
  }
  ns3::Simulator::Schedule(ns3::NanoSeconds(delay.count()), [this, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.expired()) notify_readable();
  });
}

void Ns3UdpPeerConnection::set_events(ConnectionEvents& events) {
  events_ = &events;
  if (!owed_readable_ && !owed_failed_) return;
  // Not from inside set_events, which is usually called from on_accept.
  ns3::Simulator::ScheduleNow([this, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.expired()) return;
    if (std::exchange(owed_readable_, false) && !notify_readable()) return;
    if (std::exchange(owed_failed_, false)) notify_failed();
  });
}

Result<std::size_t> Ns3UdpPeerConnection::send(std::span<const std::byte> data) {
  if (closed_) return make_error(EBADF, "send on a closed connection");
  if (error_) return *error_;
  if (write_shut_) return make_error(EPIPE, "send after shutdown_write");
  if (!share_->socket) return make_error(ENOTCONN, "the UDP listener of this session is closed");
  if (data.empty()) return std::size_t{0};
  const std::size_t n = std::min(data.size(), kMaxUdpPayload);
  ns3::Ptr<ns3::Packet> packet = ns3::Create<ns3::Packet>(reinterpret_cast<const std::uint8_t*>(data.data()),
                                                          static_cast<std::uint32_t>(n));
  const Duration delay = options_.processing_delay;
  if (delay.count() == 0) {
    if (share_->socket->SendTo(packet, 0, peer_) < 0) return socket_error(*share_->socket, "sendto");
  } else {
    ns3::Simulator::Schedule(ns3::NanoSeconds(delay.count()), [share = share_, packet, peer = peer_] {
      if (share->socket) share->socket->SendTo(packet, 0, peer);
    });
  }
  ++metrics_.segments_sent;
  metrics_.bytes_sent += n;
  return n;
}

Result<std::size_t> Ns3UdpPeerConnection::receive(std::span<std::byte> buffer) {
  if (closed_) return make_error(EBADF, "receive on a closed connection");
  if (error_) return *error_;
  const std::size_t n = inbox_.take(buffer, sim_now());
  metrics_.bytes_received += n;
  if (n > 0 || buffer.empty()) return n;
  return make_error(EAGAIN, "no data");
}

void Ns3UdpPeerConnection::shutdown_write() { write_shut_ = true; }

void Ns3UdpPeerConnection::close() {
  if (closed_) return;
  closed_ = true;
  leave();
}

void Ns3UdpPeerConnection::abort(const Error& why) {
  token_ = 0;  // the stack has already dropped us
  if (closed_ || error_) return;
  error_ = why;
  inbox_.clear();
  // Leave the peer table: datagrams from this source after the stack recovers start a new session.
  leave();
  notify_failed();
}

void Ns3UdpPeerConnection::leave() {
  if (token_ != 0) options_.stack->remove(std::exchange(token_, 0));
  if (std::exchange(registered_, false)) {
    const auto it = share_->peers.find(key_of(peer_));
    if (it != share_->peers.end() && it->second == this) share_->peers.erase(it);
  }
}

bool Ns3UdpPeerConnection::notify_readable() {
  if (closed_ || error_) return false;
  if (events_ == nullptr) {
    owed_readable_ = true;
    return true;
  }
  const std::weak_ptr<bool> alive = alive_;
  events_->on_readable();
  return !alive.expired() && !closed_;
}

bool Ns3UdpPeerConnection::notify_failed() {
  if (closed_) return false;
  if (events_ == nullptr) {
    owed_failed_ = true;
    return true;
  }
  const std::weak_ptr<bool> alive = alive_;
  events_->on_failed(*error_);
  return !alive.expired() && !closed_;
}

}  // namespace dmm::sim
