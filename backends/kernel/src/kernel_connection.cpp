#include "dmm/kernel/kernel_connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "dmm/kernel/sys_error.hpp"
#include "dmm/kernel/tcp_info.hpp"

namespace dmm::kernel {
namespace {

// Edge-triggered: an event means something new happened (data arrived, room appeared), which is what the
// Connection contract promises; level-triggered readiness would repeat until the application drained the socket.
constexpr std::uint32_t kWatched = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

int pending_socket_error(int fd) {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

std::size_t max_datagram_of(int fd) {
  int domain = AF_INET;
  socklen_t length = sizeof domain;
  ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length);
  return domain == AF_INET6 ? kMaxUdpPayloadV6 : kMaxUdpPayloadV4;
}

}  // namespace

Result<std::unique_ptr<KernelConnection>> KernelConnection::create(UniqueFd fd, L4Proto proto, Start start,
                                                                   EpollExecutor& executor,
                                                                   ConnectionEvents* events) {
  const Phase phase = start == Start::connecting ? Phase::connecting : Phase::open;
  std::unique_ptr<KernelConnection> c(new KernelConnection(std::move(fd), proto, phase, executor, events));
  KernelConnection* self = c.get();
  if (Status s = executor.watch(self->fd_.get(), kWatched, [self](std::uint32_t ev) { self->on_io(ev); }); !s)
    return s.error();
  // The contract wants every outcome on a later callback, never inside connect().
  if (start == Start::connected_now) self->after_zero(&KernelConnection::deliver_connected_now);
  return c;
}

KernelConnection::KernelConnection(UniqueFd fd, L4Proto proto, Phase phase, EpollExecutor& executor,
                                   ConnectionEvents* events)
    : fd_(std::move(fd)),
      proto_(proto),
      phase_(phase),
      executor_(executor),
      events_(events),
      max_datagram_(max_datagram_of(fd_.get())) {}

KernelConnection::~KernelConnection() { close(); }

void KernelConnection::deliver_connected_now() {
  if (closed_ || phase_ != Phase::open) return;
  deliver(kConnected);
}

void KernelConnection::set_events(ConnectionEvents& events) {
  events_ = &events;
  // Delivered later, not from inside set_events (usually called from on_accept, which should finish first).
  if (owed_ != 0 && !closed_) after_zero(&KernelConnection::deliver_owed);
}

Result<std::size_t> KernelConnection::send(std::span<const std::byte> data) {
  if (closed_) return make_error(EBADF, "send on a closed connection");
  if (phase_ == Phase::dead) return *error_;
  if (phase_ == Phase::connecting) return make_error(ENOTCONN, "send before the connection is established");
  if (write_shut_) return make_error(EPIPE, "send after shutdown_write");
  if (data.empty()) return std::size_t{0};
  const std::size_t size = is_tcp() ? data.size() : std::min(data.size(), max_datagram_);
  // MSG_NOSIGNAL: a peer that went away must be an EPIPE here, not a SIGPIPE killing the process.
  const ssize_t n = ::send(fd_.get(), data.data(), size, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0) {
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
      want_writable_ = true;
      return std::size_t{0};
    }
    if (err == EINTR) return std::size_t{0};
    Error error = sys_error(err, "send");
    fail(error, /*now=*/false);
    return error;
  }
  const auto sent = static_cast<std::size_t>(n);
  if (sent < data.size() && is_tcp()) want_writable_ = true;
  metrics_.bytes_sent += sent;
  if (!is_tcp()) {
    ++metrics_.segments_sent;
    metrics_.bytes_acked = metrics_.bytes_sent;
  }
  return sent;
}

Result<std::size_t> KernelConnection::receive(std::span<std::byte> buffer) {
  if (closed_) return make_error(EBADF, "receive on a closed connection");
  if (phase_ == Phase::dead) return *error_;
  if (phase_ == Phase::connecting) return make_error(EAGAIN, "not connected yet");
  if (buffer.empty()) return std::size_t{0};
  const ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (n > 0) {
    metrics_.bytes_received += static_cast<std::size_t>(n);
    return static_cast<std::size_t>(n);
  }
  if (n == 0) {
    // TCP: end of stream (every byte before the FIN has been read). UDP: an empty datagram.
    if (is_tcp()) peer_closed_ = true;
    return std::size_t{0};
  }
  const int err = errno;
  if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return make_error(EAGAIN, "no data");
  Error error = sys_error(err, "receive");
  fail(error, /*now=*/false);
  return error;
}

void KernelConnection::shutdown_write() {
  if (closed_ || phase_ == Phase::dead || write_shut_) return;
  write_shut_ = true;
  if (is_tcp()) ::shutdown(fd_.get(), SHUT_WR);  // UDP has nothing to tell the peer
}

void KernelConnection::close() {
  if (closed_) return;
  closed_ = true;
  release_fd();
}

ConnectionMetrics KernelConnection::metrics() const {
  refresh_metrics();
  return metrics_;
}

void KernelConnection::refresh_metrics() const {
  if (!is_tcp() || !fd_ || phase_ == Phase::connecting) return;
  if (auto info = read_tcp_info(fd_.get())) {
    metrics_.rtt = info->rtt;
    metrics_.segments_sent = info->data_segments_out;
    metrics_.retransmits = info->total_retransmits;
    metrics_.bytes_unsent = info->notsent_bytes;
  }
  if (auto waiting = unacknowledged_bytes(fd_.get())) {
    // After a FIN the queue counts it too (one sequence number): clamp rather than go negative.
    metrics_.bytes_acked = metrics_.bytes_sent - std::min<ByteCount>(metrics_.bytes_sent, *waiting);
  }
}

void KernelConnection::release_fd() {
  if (!fd_) return;
  refresh_metrics();  // a closed socket has nothing left to ask: keep its last numbers
  executor_.unwatch(fd_.get());
  fd_.reset();
}

void KernelConnection::on_io(std::uint32_t ev) {
  if (closed_ || phase_ == Phase::dead) return;
  if (phase_ == Phase::connecting) {
    if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    if (const int err = pending_socket_error(fd_.get()); err != 0) {
      fail(sys_error(err, "connect"), /*now=*/true);
      return;
    }
    if (ev & EPOLLHUP) {  // no error, yet hung up: the kernel gave up without saying why
      fail(make_error(ECONNABORTED, "connect: connection aborted"), /*now=*/true);
      return;
    }
    phase_ = Phase::open;
    if (!deliver(kConnected)) return;
  }
  if (ev & EPOLLERR) {
    // ECONNRESET, ETIMEDOUT, or (UDP) an ICMP error such as ECONNREFUSED. Reading SO_ERROR clears it.
    if (const int err = pending_socket_error(fd_.get()); err != 0) {
      fail(sys_error(err, is_tcp() ? "connection" : "datagram"), /*now=*/true);
      return;
    }
  }
  if ((ev & EPOLLIN) && !deliver(kReadable)) return;
  if (is_tcp() && (ev & (EPOLLRDHUP | EPOLLHUP)) && !peer_close_told_) {
    // The FIN arrived; bytes before it may still be unread (receive returns them, then 0).
    peer_closed_ = true;
    peer_close_told_ = true;
    if (!deliver(kPeerClosed)) return;
  }
  if ((ev & EPOLLOUT) && want_writable_ && !write_shut_) {
    want_writable_ = false;
    deliver(kWritable);
  }
}

void KernelConnection::fail(Error error, bool now) {
  if (closed_ || phase_ == Phase::dead) return;
  phase_ = Phase::dead;
  error_ = std::move(error);
  release_fd();
  if (now) {
    deliver(kFailed);
  } else {
    after_zero(&KernelConnection::deliver_failed);
  }
}

void KernelConnection::deliver_failed() {
  if (!closed_) deliver(kFailed);
}

bool KernelConnection::deliver(Event event) {
  if (closed_) return false;
  if (events_ == nullptr) {
    owed_ |= event;
    return true;
  }
  const std::weak_ptr<bool> alive = alive_;
  switch (event) {
    case kConnected: events_->on_connected(); break;
    case kReadable: events_->on_readable(); break;
    case kWritable: events_->on_writable(); break;
    case kPeerClosed: events_->on_peer_closed(); break;
    case kFailed: events_->on_failed(*error_); break;
  }
  return !alive.expired() && !closed_;
}

void KernelConnection::deliver_owed() {
  for (const Event event : {kConnected, kReadable, kWritable, kPeerClosed, kFailed}) {
    if ((owed_ & event) == 0) continue;
    owed_ &= static_cast<std::uint8_t>(~event);
    if (!deliver(event)) return;
  }
}

void KernelConnection::after_zero(void (KernelConnection::*fn)()) {
  executor_.schedule(Duration(0), [this, fn, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.expired()) (this->*fn)();
  });
}

}  // namespace dmm::kernel
