#include "user_session.hpp"

#include "nrd_subscription.hpp"
#include "real_calls.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

namespace dmm::preload {

// ---- ByteRing --------------------------------------------------------------------------------------------------

std::size_t ByteRing::put(const std::byte* from, std::size_t n) {
  n = std::min(n, room());
  for (std::size_t done = 0; done < n;) {
    const std::size_t at = (head_ + size_) % data_.size();
    const std::size_t run = std::min(n - done, data_.size() - at);
    std::memcpy(data_.data() + at, from + done, run);
    size_ += run;
    done += run;
  }
  return n;
}

std::size_t ByteRing::take(std::byte* to, std::size_t n, bool peek) {
  n = std::min(n, size_);
  std::size_t head = head_;
  for (std::size_t done = 0; done < n;) {
    const std::size_t run = std::min(n - done, data_.size() - head);
    std::memcpy(to + done, data_.data() + head, run);
    head = (head + run) % data_.size();
    done += run;
  }
  if (!peek) {
    head_ = head;
    size_ -= n;
  }
  return n;
}

std::span<const std::byte> ByteRing::front() const {
  return {data_.data() + head_, std::min(size_, data_.size() - head_)};
}

void ByteRing::drop(std::size_t n) {
  n = std::min(n, size_);
  head_ = (head_ + n) % data_.size();
  size_ -= n;
}

std::span<std::byte> ByteRing::back() {
  const std::size_t tail = (head_ + size_) % data_.size();
  const std::size_t run = tail >= head_ && size_ < data_.size() ? data_.size() - tail : head_ - tail;
  return {data_.data() + tail, size_ == data_.size() ? 0 : run};
}

void ByteRing::commit(std::size_t n) { size_ += std::min(n, room()); }

// ---- UserSessions ----------------------------------------------------------------------------------------------

std::uint64_t UserSessions::add(std::shared_ptr<UserSession> session) {
  const std::lock_guard lock(mutex_);
  const std::uint64_t id = next_++;
  sessions_.emplace(id, std::move(session));
  return id;
}

std::shared_ptr<UserSession> UserSessions::find(std::uint64_t id) {
  const std::lock_guard lock(mutex_);
  const auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<UserSession>> UserSessions::all() {
  const std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<UserSession>> out;
  for (const auto& [id, session] : sessions_) out.push_back(session);
  return out;
}

void UserSessions::remove(const UserSession* session) {
  std::shared_ptr<UserSession> last;  // destroyed after the lock is released
  const std::lock_guard lock(mutex_);
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
    if (it->second.get() == session) {
      last = std::move(it->second);
      sessions_.erase(it);
      return;
    }
}

// ---- UserSession -----------------------------------------------------------------------------------------------

UserSession::UserSession(UserStacks& stacks, L4Proto proto, ReadinessMirror mirror, Endpoint peer)
    : stacks_(stacks), proto_(proto), mirror_(std::move(mirror)), peer_(peer) {}

// Closed on the stack thread before the last reference goes (finish_if_done_locked, abandon): a Connection may
// only be touched there.
UserSession::~UserSession() { assert(!connection_); }

bool UserSession::nonblocking(int fd, int flags) {
  if (flags & MSG_DONTWAIT) return true;
  const int status = real().fcntl(fd, F_GETFL);
  return status >= 0 && (status & O_NONBLOCK);
}

namespace {

enum class Wait { ready, timed_out, closed };

// Waits for `events` on the application's fd (its readiness mirrors the session), at most `timeout` (zero: no
// limit; SO_RCVTIMEO/SO_SNDTIMEO). Interrupted waits restart, as a kernel socket call restarts under SA_RESTART.
// `closed`: the fd is not open any more (another thread closed it), so the call must end.
Wait wait_for(int fd, short events, Duration timeout) {
  pollfd p{fd, events, 0};
  const int ms = timeout > Duration::zero()
                     ? static_cast<int>(std::max<std::int64_t>(
                           1, std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()))
                     : -1;
  int n;
  while ((n = ::poll(&p, 1, ms)) < 0 && errno == EINTR) {
  }
  if (n == 0) return Wait::timed_out;
  if (n > 0 && (p.revents & POLLNVAL)) return Wait::closed;
  return Wait::ready;
}

// The same wait, where this thread may take the stack's frames itself while it waits (no wake-up of the stack
// thread, then of this one): until `news()`, the fd's events, or the timeout.
Wait wait_for_news(UserStacks& stacks, int fd, short events, Duration timeout, const std::function<bool()>& news) {
  using Driven = kernel::EpollExecutor::Driven;
  const std::optional<Driven> driven = stacks.drive_until(news, fd, events, timeout);
  if (!driven) return wait_for(fd, events, timeout);
  if (*driven == Driven::fd_closed) return Wait::closed;
  return *driven == Driven::timed_out ? Wait::timed_out : Wait::ready;
}

std::size_t total_length(const iovec* iov, int iovcnt) {
  std::size_t total = 0;
  for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  return total;
}

}  // namespace

Status UserSession::start_connect(Stack& stack) {
  std::shared_ptr<UserSession> self = shared_from_this();
  stack_name_ = stack.info().id;
  return stacks_.call([self, &stack]() -> Status {
    auto connection = stack.connect(self->peer_, self->proto_, *self);
    if (!connection) return connection.error();
    const std::lock_guard lock(self->mutex_);
    self->connection_ = std::move(*connection);
    if (Status watched = self->watch_control(); !watched) {
      self->connection_->close();
      self->connection_.reset();
      return watched;
    }
    if (self->proto_ == L4Proto::udp) {
      // UDP is usable at once: the first send right after connect/sendto must not meet "connecting".
      self->phase_ = Phase::established;
      self->mirror_.make_writable();
    }
    return {};
  });
}

Status UserSession::watch_control() {
  std::weak_ptr<UserSession> weak = weak_from_this();
  // EPOLLRDHUP only: the filler the application end writes into the control end must not wake us.
  return stacks_.executor().watch(mirror_.control_fd(), EPOLLRDHUP, [weak](std::uint32_t) {
    if (auto self = weak.lock()) self->on_app_gone();
  });
}

void UserSession::abandon() {
  std::shared_ptr<UserSession> self = shared_from_this();
  stacks_.call([self] {
    self->on_app_gone();  // closes the connection here, on the stack thread, and unwatches the control end
    return 0;
  });
  // A session still connecting ends here for good: a thread of the program that already waits on it (its fd now
  // carries another stack's connection, connect_race.hpp) meets the end instead of waiting, or spinning on the
  // new socket's readiness, for news that never comes.
  const std::lock_guard lock(mutex_);
  if (phase_ == Phase::connecting) {
    phase_ = Phase::failed;
    failure_errno_ = ECONNABORTED;
  }
}

int UserSession::finish_connect(int fd) {
  if (proto_ == L4Proto::udp) return 0;  // UDP "connects" at once
  if (!nonblocking(fd, 0)) return wait_connected(fd);
  // A non-blocking connect answers EINPROGRESS, as the kernel's does for a remote peer, even when the handshake
  // finished during the hand-off: the program learns the outcome from POLLOUT and SO_ERROR.
  errno = EINPROGRESS;
  return -1;
}

int UserSession::wait_connected(int fd) {
  for (;;) {
    Duration timeout{0};
    {
      const std::lock_guard lock(mutex_);
      if (phase_ == Phase::established) return 0;
      if (phase_ == Phase::failed) {
        error_.reset();  // reported here, as connect(2) reports (and clears) the pending error
        errno = failure_errno_;
        return -1;
      }
      timeout = send_timeout_;
    }
    const Wait w = wait_for_news(stacks_, fd, POLLOUT, timeout, [this] {
      const std::lock_guard lock(mutex_);
      return phase_ != Phase::connecting;
    });
    if (w == Wait::closed) {
      errno = EBADF;
      return -1;
    }
    if (w == Wait::timed_out) {
      errno = EINPROGRESS;  // connect(2) under SO_SNDTIMEO: still in progress
      return -1;
    }
  }
}

int UserSession::connect_again(int fd) {
  {
    const std::lock_guard lock(mutex_);
    if (phase_ == Phase::established) {
      errno = EISCONN;
      return -1;
    }
    if (phase_ == Phase::failed) {
      errno = error_.value_or(ECONNABORTED);
      error_.reset();
      return -1;
    }
  }
  if (nonblocking(fd, 0)) {
    errno = EALREADY;
    return -1;
  }
  return wait_connected(fd);  // blocking: the outcome, as connect(2) would wait for it
}

void UserSession::set_timeouts(std::optional<Duration> receive, std::optional<Duration> send) {
  const std::lock_guard lock(mutex_);
  if (receive) receive_timeout_ = *receive;
  if (send) send_timeout_ = *send;
}

bool UserSession::connected() {
  const std::lock_guard lock(mutex_);
  return phase_ == Phase::established;
}

int UserSession::connect_state() {
  const std::lock_guard lock(mutex_);
  switch (phase_) {
    case Phase::connecting: return 0;
    case Phase::established: return 1;
    case Phase::failed: return -(failure_errno_ != 0 ? failure_errno_ : EIO);
  }
  return 0;
}

ssize_t UserSession::receive(int fd, const iovec* iov, int iovcnt, int flags) {
  if (flags & (MSG_OOB | MSG_ERRQUEUE)) {
    errno = (flags & MSG_OOB) ? EINVAL : EAGAIN;  // no urgent data, no error queue on a user-space stack
    return -1;
  }
  const bool peek = flags & MSG_PEEK;
  const bool wait_all = (flags & MSG_WAITALL) && !peek;
  const std::size_t wanted = total_length(iov, iovcnt);
  std::size_t got = 0;
  for (;;) {
    Duration timeout{0};
    {
      std::unique_lock lock(mutex_);
      if (proto_ == L4Proto::udp && !datagrams_.empty()) {
        std::vector<std::byte>& d = datagrams_.front();
        std::size_t copied = 0;
        for (int i = 0; i < iovcnt && copied < d.size(); ++i) {
          const std::size_t n = std::min(iov[i].iov_len, d.size() - copied);
          std::memcpy(iov[i].iov_base, d.data() + copied, n);
          copied += n;
        }
        const std::size_t length = d.size();
        if (!peek) {
          datagrams_.erase(datagrams_.begin());
          if (datagrams_.empty()) {
            mirror_.set_readable(false);
            mirror_.consume_marker_from(fd);
          }
        }
        return static_cast<ssize_t>((flags & MSG_TRUNC) ? length : copied);
      }
      if (proto_ == L4Proto::tcp && !rx_.empty()) {
        // Fill the buffers in order, continuing where an earlier pass (MSG_WAITALL) stopped.
        std::size_t start = 0;  // offset of iov[i] in the whole request
        for (int i = 0; i < iovcnt && !rx_.empty(); start += iov[i].iov_len, ++i) {
          if (got >= start + iov[i].iov_len) continue;
          const std::size_t at = got - start;
          got += rx_.take(static_cast<std::byte*>(iov[i].iov_base) + at, iov[i].iov_len - at, peek);
          if (peek) break;  // peeking twice would repeat the same bytes; one buffer's worth is enough
        }
        if (!peek) {
          if (rx_.empty() && !peer_ended_ && phase_ != Phase::failed) {
            mirror_.set_readable(false);
            mirror_.consume_marker_from(fd);
          }
          if (stack_wants_pull_ && !pull_posted_) {
            pull_posted_ = true;
            stacks_.post([self = shared_from_this()] {
              const std::lock_guard l(self->mutex_);
              self->pull_posted_ = false;
              self->pull_locked();
            });
          }
        }
        if (!wait_all || got == wanted) return static_cast<ssize_t>(got);
      }
      if (got > 0 && (peer_ended_ || phase_ == Phase::failed)) return static_cast<ssize_t>(got);
      if (peer_ended_) return 0;
      if (phase_ == Phase::failed) {
        if (error_) {
          errno = *error_;
          error_.reset();
          return -1;
        }
        return 0;  // the error was reported once; a reset connection then reads as ended
      }
      if (wanted == 0) return 0;
      if (nonblocking(fd, flags)) {
        if (got > 0) return static_cast<ssize_t>(got);
        errno = EAGAIN;
        return -1;
      }
      timeout = receive_timeout_;
    }
    const Wait w = wait_for_news(stacks_, fd, POLLIN, timeout, [this] {
      const std::lock_guard lock(mutex_);
      return !rx_.empty() || !datagrams_.empty() || peer_ended_ || phase_ == Phase::failed;
    });
    if (w != Wait::ready) {
      if (got > 0) return static_cast<ssize_t>(got);
      errno = w == Wait::closed ? EBADF : EAGAIN;  // SO_RCVTIMEO expired: EAGAIN, as the kernel says
      return -1;
    }
  }
}

ssize_t UserSession::send(int fd, const iovec* iov, int iovcnt, int flags) {
  if (flags & MSG_OOB) {
    errno = EOPNOTSUPP;  // no urgent data on a user-space stack
    return -1;
  }
  const std::size_t total = total_length(iov, iovcnt);
  std::size_t sent = 0;
  for (;;) {
    enum class Next { wait, push, send_datagram } next = Next::wait;
    int pipe_error = 0;  // decided under the lock; SIGPIPE is raised after it is released (a handler may call us)
    Duration timeout{0};
    {
      const std::lock_guard lock(mutex_);
      if (phase_ == Phase::failed || write_shut_) {
        pipe_error = phase_ == Phase::failed ? error_.value_or(EPIPE) : EPIPE;
        error_.reset();
      } else if (phase_ == Phase::established && proto_ == L4Proto::udp) {
        if (total > 65507) {
          errno = EMSGSIZE;  // the largest UDP payload of an IPv4 datagram
          return -1;
        }
        next = Next::send_datagram;
      } else if (phase_ == Phase::established) {
        const bool was_empty = tx_.empty();
        std::size_t offset = 0;  // of iov[i] in the whole request
        for (int i = 0; i < iovcnt && !tx_.full(); offset += iov[i].iov_len, ++i) {
          if (sent >= offset + iov[i].iov_len) continue;
          const std::size_t at = sent - offset;
          sent += tx_.put(static_cast<const std::byte*>(iov[i].iov_base) + at, iov[i].iov_len - at);
        }
        // Bytes behind others already waiting go when the stack makes room (on_writable pushes them).
        if (was_empty && !tx_.empty()) next = Next::push;
        if (tx_.full()) mirror_.make_unwritable(fd);
        if (sent == total && next != Next::push) return static_cast<ssize_t>(sent);
      }
      if (pipe_error == 0 && next == Next::wait && nonblocking(fd, flags)) {
        if (sent > 0) return static_cast<ssize_t>(sent);
        errno = EAGAIN;
        return -1;
      }
      timeout = send_timeout_;
    }
    if (pipe_error != 0) {
      if (sent > 0) return static_cast<ssize_t>(sent);
      if (pipe_error == EPIPE && !(flags & MSG_NOSIGNAL)) ::pthread_kill(::pthread_self(), SIGPIPE);
      errno = pipe_error;
      return -1;
    }
    if (next == Next::send_datagram) {
      send_datagram(iov, iovcnt, total);
      return static_cast<ssize_t>(total);
    }
    if (next == Next::push && nonblocking(fd, flags)) {
      post_push();
      return static_cast<ssize_t>(sent);
    }
    if (next == Next::push) {
      // This thread pushes into the stack itself (the loop lock, then ours): the bytes leave now, without waking
      // the stack thread.
      stacks_.call([this] {
        const std::lock_guard l(mutex_);
        push_locked();
      });
      if (sent == total) return static_cast<ssize_t>(sent);
      continue;  // the buffer was full: what the push made room for
    }
    const Wait w = wait_for_news(stacks_, fd, POLLOUT, timeout, [this] {
      const std::lock_guard lock(mutex_);
      // Still connecting is no news, even with room in the buffer: a blocking send waits for the handshake.
      return phase_ == Phase::failed || write_shut_ || (phase_ == Phase::established && !tx_.full());
    });
    if (w != Wait::ready) {
      if (sent > 0) return static_cast<ssize_t>(sent);
      errno = w == Wait::closed ? EBADF : EAGAIN;  // SO_SNDTIMEO expired: EAGAIN, as the kernel says
      return -1;
    }
  }
}

void UserSession::post_push() {
  const std::lock_guard lock(mutex_);
  if (push_posted_) return;
  push_posted_ = true;
  stacks_.post([self = shared_from_this()] {
    const std::lock_guard l(self->mutex_);
    self->push_posted_ = false;
    self->push_locked();
  });
}

void UserSession::send_datagram(const iovec* iov, int iovcnt, std::size_t total) {
  std::span<const std::byte> datagram;
  std::vector<std::byte> gathered;
  if (iovcnt == 1) {
    datagram = {static_cast<const std::byte*>(iov[0].iov_base), total};
  } else {
    gathered.resize(total);
    std::size_t at = 0;
    for (int i = 0; i < iovcnt; ++i) {
      std::memcpy(gathered.data() + at, iov[i].iov_base, iov[i].iov_len);
      at += iov[i].iov_len;
    }
    datagram = gathered;
  }
  // Sent by this thread (as the kernel sends a datagram inside sendto): a datagram the stack cannot take is
  // dropped, as a full device queue drops one, and the call still succeeds.
  stacks_.call([this, datagram] {
    const std::lock_guard l(mutex_);
    if (connection_) (void)connection_->send(datagram);
  });
}

int UserSession::shutdown(int how) {
  const std::lock_guard lock(mutex_);
  if (phase_ != Phase::established) {
    errno = ENOTCONN;
    return -1;
  }
  if (how == SHUT_WR || how == SHUT_RDWR) {
    if (!write_shut_) {
      write_shut_ = true;
      stacks_.post([self = shared_from_this()] {
        const std::lock_guard l(self->mutex_);
        self->push_locked();  // ends the stream once what is buffered is out
      });
    }
  }
  if (how == SHUT_RD || how == SHUT_RDWR) {
    // Reads then return end of stream, as on a kernel socket.
    peer_ended_ = true;
    mirror_.set_readable(true);
    mirror_.set_end_of_stream();
  }
  return 0;
}

int UserSession::socket_error(bool clear) {
  const std::lock_guard lock(mutex_);
  const int err = error_.value_or(0);
  if (clear) error_.reset();
  return err;
}

std::size_t UserSession::readable_bytes() {
  const std::lock_guard lock(mutex_);
  if (proto_ == L4Proto::udp) return datagrams_.empty() ? 0 : datagrams_.front().size();
  return rx_.size();
}

Endpoint UserSession::local() {
  auto self = shared_from_this();
  return stacks_.call([self]() -> Endpoint {
    const std::lock_guard lock(self->mutex_);
    if (!self->connection_) return Endpoint{};
    return self->connection_->local_endpoint().value_or(Endpoint{});
  });
}

ConnectionMetrics UserSession::metrics() {
  auto self = shared_from_this();
  return stacks_.call([self]() -> ConnectionMetrics {
    const std::lock_guard lock(self->mutex_);
    return self->connection_ ? self->connection_->metrics() : ConnectionMetrics{};
  });
}

int UserSession::set_nodelay(bool on) {
  auto self = shared_from_this();
  return stacks_.call([self, on] {
    const std::lock_guard lock(self->mutex_);
    return self->connection_ && self->connection_->set_nodelay(on) ? 0 : -1;
  });
}

void UserSession::remember_option(int level, int name, const void* value, socklen_t length) {
  const std::lock_guard lock(mutex_);
  if (options_.size() >= 64 && !options_.count({level, name})) return;  // bounded: a program looping on options
  const auto* bytes = static_cast<const std::byte*>(value);
  options_[{level, name}] = std::vector<std::byte>(bytes, bytes + (value ? length : 0));
}

bool UserSession::recall_option(int level, int name, void* value, socklen_t* length) {
  const std::lock_guard lock(mutex_);
  const auto it = options_.find({level, name});
  if (it == options_.end()) return false;
  const socklen_t n = std::min<socklen_t>(*length, static_cast<socklen_t>(it->second.size()));
  std::memcpy(value, it->second.data(), n);
  *length = n;
  return true;
}

// ---- the stack thread ------------------------------------------------------------------------------------------

void UserSession::on_connected() {
  const std::lock_guard lock(mutex_);
  phase_ = Phase::established;
  last_report_ = stacks_.executor().now();  // nRD hears about the whole life of the session
  reported_ = ConnectionMetrics{};
  mirror_.make_writable();
  pull_locked();  // data may have come with the handshake
}

void UserSession::on_failed(const Error& error) {
  const std::lock_guard lock(mutex_);
  if (phase_ == Phase::established) report_progress(stacks_.executor().now(), /*final=*/true);
  if (!stack_name_.empty()) {
    PathSample failed;
    failed.stack = stack_name_;
    failed.failure = true;  // could not be set up, or died on this stack
    nrd_report_sample(failed);
  }
  phase_ = Phase::failed;
  failure_errno_ = error.code != 0 ? error.code : EIO;
  error_ = failure_errno_;
  mirror_.set_readable(true);  // readers and writers wake up and meet the error
  mirror_.set_failed();
  if (connection_) {
    connection_->close();
    connection_.reset();
  }
  finish_if_done_locked();
}

void UserSession::on_readable() {
  const std::lock_guard lock(mutex_);
  pull_locked();
}

void UserSession::on_writable() {
  const std::lock_guard lock(mutex_);
  push_locked();
}

void UserSession::on_peer_closed() {
  const std::lock_guard lock(mutex_);
  pull_locked();
}

void UserSession::pull_locked() {
  if (!connection_) return;
  bool arrived = false;  // new data this time: one more readiness edge (set_readable)
  if (proto_ == L4Proto::udp) {
    if (!datagram_buffer_) datagram_buffer_ = std::make_unique_for_overwrite<std::byte[]>(65536);
    const std::span<std::byte> buffer(datagram_buffer_.get(), 65536);
    for (;;) {
      auto n = connection_->receive(buffer);
      if (!n) break;
      if (datagrams_.size() < 1024) {  // beyond it dropped, as a full socket buffer drops datagrams
        datagrams_.emplace_back(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
        arrived = true;
      }
    }
    if (arrived) mirror_.set_readable(true);
    return;
  }
  stack_wants_pull_ = false;
  while (!peer_ended_) {
    const std::span<std::byte> room = rx_.back();
    if (room.empty()) {
      stack_wants_pull_ = true;  // the application reads first; it posts a pull when it has made room
      break;
    }
    auto n = connection_->receive(room);
    if (!n) break;  // EAGAIN; a failure arrives as on_failed
    if (*n == 0) {
      peer_ended_ = true;
      mirror_.set_readable(true);
      mirror_.set_end_of_stream();
      break;
    }
    rx_.commit(*n);
    arrived = true;
  }
  if (arrived) mirror_.set_readable(true);
}

void UserSession::push_locked() {
  if (!connection_ || phase_ != Phase::established) return;
  const bool was_full = tx_.full();
  while (!tx_.empty()) {
    auto n = connection_->send(tx_.front());
    if (!n || *n == 0) break;  // no room in the stack (on_writable follows), or a failure (on_failed follows)
    tx_.drop(*n);
  }
  if (was_full && !tx_.full()) mirror_.make_writable();
  if (tx_.empty() && (write_shut_ || app_gone_)) connection_->shutdown_write();
  finish_if_done_locked();
}

void UserSession::on_app_gone() {
  std::shared_ptr<UserSession> keep = shared_from_this();
  const std::lock_guard lock(mutex_);
  if (app_gone_) return;
  app_gone_ = true;
  stacks_.executor().unwatch(mirror_.control_fd());
  if (phase_ == Phase::connecting && connection_) {
    connection_->close();
    connection_.reset();
  }
  push_locked();  // what the program wrote before closing still goes out, then the stream ends
  finish_if_done_locked();
}

void UserSession::end_for_exit() {
  const std::lock_guard lock(mutex_);
  write_shut_ = true;
  push_locked();  // ends the stream once the buffer is out
}

bool UserSession::delivered() {
  const std::lock_guard lock(mutex_);
  return tx_.empty() || !connection_;
}

void UserSession::close_when_stopped() {
  const std::lock_guard lock(mutex_);
  if (connection_) {
    connection_->close();
    connection_.reset();
  }
}

void UserSession::report_progress(TimePoint now, bool final) {
  if (!connection_ || stack_name_.empty()) return;
  const ConnectionMetrics current = connection_->metrics();
  if (last_report_ >= TimePoint::zero()) {
    const Duration elapsed = now - last_report_;
    if (auto sample = progress_sample(stack_name_, reported_, current, now, elapsed, 64 * 1024, final))
      nrd_report_sample(*sample);
  }
  last_report_ = now;
  reported_ = current;
}

void UserSession::finish_if_done_locked() {
  if (!app_gone_) return;
  if (connection_ && !tx_.empty()) return;  // still sending what the program wrote
  report_progress(stacks_.executor().now(), /*final=*/true);
  if (connection_) {
    connection_->close();  // lwIP sends its FIN after anything still queued
    connection_.reset();
  }
  // Out of the table now, destroyed later: this may be the last reference, and we are inside a method holding
  // the session's own mutex.
  stacks_.post([self = shared_from_this()] {});
  stacks_.sessions().remove(this);
}

}  // namespace dmm::preload
