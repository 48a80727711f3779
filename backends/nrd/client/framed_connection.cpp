#include "dmm/nrd/framed_connection.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <vector>

#include "dmm/kernel/sys_error.hpp"
#include "dmm/nrd/socket_ops.hpp"

namespace dmm::nrd {

using kernel::UniqueFd;

Result<std::unique_ptr<FramedConnection>> FramedConnection::create(UniqueFd fd, bool connecting,
                                                                   kernel::EpollExecutor& executor, Events& events,
                                                                   Limits limits) {
  std::unique_ptr<FramedConnection> c(new FramedConnection(std::move(fd), connecting, executor, events, limits));
  const std::uint32_t interest = EPOLLIN | EPOLLRDHUP | (connecting ? EPOLLOUT : 0u);
  FramedConnection* self = c.get();
  if (Status s = executor.watch(c->fd_.get(), interest, [self](std::uint32_t ev) { self->on_io(ev); }); !s)
    return s.error();
  c->want_write_ = connecting;
  return c;
}

FramedConnection::FramedConnection(UniqueFd fd, bool connecting, kernel::EpollExecutor& executor, Events& events,
                                   Limits limits)
    : fd_(std::move(fd)),
      executor_(executor),
      events_(events),
      limits_(limits),
      reader_(limits.max_body),
      connecting_(connecting) {}

FramedConnection::~FramedConnection() { release(); }

void FramedConnection::release() {
  if (!fd_) return;
  executor_.unwatch(fd_.get());
  fd_.reset();
}

void FramedConnection::close() {
  closed_ = true;
  release();
  queue_.clear();
  queued_bytes_ = 0;
}

void FramedConnection::close_with(std::string frame) {
  if (open() && !connecting_) {
    queued_bytes_ += frame.size();
    queue_.push_back(std::move(frame));
    flush();
  }
  close();
}

Status FramedConnection::send(std::string frame) {
  if (!open()) return make_error(ENOTCONN, "connection closed");
  if (queued_bytes_ + frame.size() > limits_.max_queued_bytes)
    return make_error(ENOBUFS, std::to_string(queued_bytes_) + " bytes already wait for the peer to read");
  queued_bytes_ += frame.size();
  queue_.push_back(std::move(frame));
  if (connecting_) return {};
  if (!flush()) return {};  // end() was scheduled: the owner hears of it on the next turn
  update_interest();
  return {};
}

bool FramedConnection::flush() {
  while (!queue_.empty()) {
    // Up to 16 frames per call: small frames (heartbeats, samples) to one peer go out in one system call.
    std::array<iovec, 16> iov{};
    std::size_t n = 0;
    for (auto it = queue_.begin(); it != queue_.end() && n < iov.size(); ++it, ++n) {
      const std::size_t skip = n == 0 ? queue_offset_ : 0;
      iov[n] = {it->data() + skip, it->size() - skip};
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = n;
    const ssize_t written = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (written < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == EINTR) continue;
      end(kernel::last_sys_error("send"), /*now=*/false);
      return false;
    }
    bytes_out_ += static_cast<std::uint64_t>(written);
    queued_bytes_ -= static_cast<std::size_t>(written);
    std::size_t left = static_cast<std::size_t>(written);
    while (left > 0) {
      const std::size_t rest = queue_.front().size() - queue_offset_;
      if (left < rest) {
        queue_offset_ += left;
        left = 0;
      } else {
        left -= rest;
        queue_.pop_front();
        queue_offset_ = 0;
      }
    }
  }
  return true;
}

void FramedConnection::update_interest() {
  if (!fd_) return;
  const bool want = connecting_ || !queue_.empty();
  if (want == want_write_) return;
  want_write_ = want;
  (void)executor_.modify(fd_.get(), EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u));
}

void FramedConnection::on_io(std::uint32_t ev) {
  if (!open()) return;
  const std::weak_ptr<bool> alive = alive_;
  if (connecting_) {
    if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    if (const int err = pending_error(fd_.get()); err != 0) {
      end(kernel::sys_error(err, "connect"), /*now=*/true);
      return;
    }
    connecting_ = false;
    events_.on_connected();
    if (alive.expired() || !open()) return;
  }
  if (ev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)) {
    if (!read_some()) return;
    if (alive.expired() || !open()) return;
  }
  if (ev & EPOLLOUT) {
    if (!flush()) return;
  }
  update_interest();
}

bool FramedConnection::read_some() {
  std::vector<char> buffer(limits_.read_chunk);
  const ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
    end(kernel::last_sys_error("recv"), /*now=*/true);
    return false;
  }
  if (n == 0) {
    const Status rest = reader_.finish();
    if (!rest) return protocol_error(rest.error());
    end(std::nullopt, /*now=*/true);
    return false;
  }
  bytes_in_ += static_cast<std::uint64_t>(n);
  reader_.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
  const std::weak_ptr<bool> alive = alive_;
  for (;;) {
    auto frame = reader_.next();
    if (!frame) return protocol_error(frame.error());
    if (!*frame) return true;
    ++frames_in_;
    events_.on_frame(std::move(**frame));
    if (alive.expired() || !open()) return false;
  }
}

bool FramedConnection::protocol_error(const Error& error) {
  const std::weak_ptr<bool> alive = alive_;
  events_.on_protocol_error(error);
  if (alive.expired() || !open()) return false;
  end(error, /*now=*/true);
  return false;
}

void FramedConnection::end(std::optional<Error> why, bool now) {
  if (dead_ || closed_) return;
  dead_ = true;
  release();
  if (now) {
    events_.on_closed(why);
    return;
  }
  executor_.schedule(Duration::zero(), [alive = std::weak_ptr<bool>(alive_), this, why = std::move(why)] {
    if (!alive.expired() && !closed_) events_.on_closed(why);
  });
}

}  // namespace dmm::nrd
