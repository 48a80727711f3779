#include "dmm/kernel/kernel_udp_peer_connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "dmm/kernel/socket_address.hpp"
#include "dmm/kernel/sys_error.hpp"

namespace dmm::kernel {

KernelUdpPeerConnection::KernelUdpPeerConnection(std::shared_ptr<KernelUdpShare> share, const Endpoint& peer,
                                                 EpollExecutor& executor)
    : share_(std::move(share)), peer_(peer), executor_(executor) {
  share_->peers[KernelUdpShare::key_of(peer_)] = this;
}

KernelUdpPeerConnection::~KernelUdpPeerConnection() { close(); }

void KernelUdpPeerConnection::leave() {
  if (!std::exchange(registered_, false)) return;
  share_->peers.erase(KernelUdpShare::key_of(peer_));
}

void KernelUdpPeerConnection::deliver_datagram(std::vector<std::byte> datagram) {
  if (closed_) return;
  if (queued_bytes_ + datagram.size() > kMaxQueuedBytes) return;
  queued_bytes_ += datagram.size();
  inbox_.push_back(std::move(datagram));
  notify_readable();
}

void KernelUdpPeerConnection::notify_readable() {
  if (events_ == nullptr) {
    owed_readable_ = true;
    return;
  }
  events_->on_readable();
}

void KernelUdpPeerConnection::set_events(ConnectionEvents& events) {
  events_ = &events;
  if (!owed_readable_ || closed_) return;
  // Later, not from inside set_events (usually called from on_accept, which should finish first).
  executor_.schedule(Duration(0), [this, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.expired() || closed_ || !std::exchange(owed_readable_, false)) return;
    events_->on_readable();
  });
}

Result<std::size_t> KernelUdpPeerConnection::send(std::span<const std::byte> data) {
  if (closed_) return make_error(EBADF, "send on a closed connection");
  if (write_shut_) return make_error(EPIPE, "send after shutdown_write");
  if (!share_->fd) return make_error(ENOTCONN, "the UDP listener of this session is closed");
  if (data.empty()) return std::size_t{0};
  const std::size_t size = std::min(data.size(), share_->max_datagram);
  const SocketAddress to = to_socket_address(peer_);
  const ssize_t n = ::sendto(share_->fd.get(), data.data(), size, MSG_NOSIGNAL | MSG_DONTWAIT, to.get(), to.length);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR) return std::size_t{0};
    return last_sys_error("sendto");
  }
  metrics_.bytes_sent += static_cast<std::size_t>(n);
  metrics_.bytes_acked = metrics_.bytes_sent;  // no acknowledgements in UDP
  ++metrics_.segments_sent;
  return static_cast<std::size_t>(n);
}

Result<std::size_t> KernelUdpPeerConnection::receive(std::span<std::byte> buffer) {
  if (closed_) return make_error(EBADF, "receive on a closed connection");
  if (buffer.empty()) return std::size_t{0};
  if (inbox_.empty()) return make_error(EAGAIN, "no data");
  std::vector<std::byte> datagram = std::move(inbox_.front());
  inbox_.pop_front();
  queued_bytes_ -= datagram.size();
  const std::size_t n = std::min(buffer.size(), datagram.size());
  std::memcpy(buffer.data(), datagram.data(), n);
  metrics_.bytes_received += n;
  return n;
}

void KernelUdpPeerConnection::shutdown_write() { write_shut_ = true; }

void KernelUdpPeerConnection::close() {
  if (closed_) return;
  closed_ = true;
  inbox_.clear();
  queued_bytes_ = 0;
  leave();
}

}  // namespace dmm::kernel
