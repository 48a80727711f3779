#include "pumped_session.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/kernel/sys_error.hpp"

namespace dmm::service {
namespace {

using kernel::UniqueFd;

}  // namespace

PumpedSession::PumpedSession(std::uint64_t id, kernel::EpollExecutor& executor, Done done)
    : id_(id), executor_(executor), done_(std::move(done)) {}

PumpedSession::~PumpedSession() {
  if (watching_) executor_.unwatch(ours_.get());
  if (connection_) connection_->close();  // a session the daemon drops unfinished (it is stopping)
}

Result<std::unique_ptr<PumpedSession>> PumpedSession::open(std::uint64_t id, Stack& stack,
                                                           const Endpoint& destination, bool nonblocking,
                                                           kernel::EpollExecutor& executor, PathSampleSink* samples,
                                                           Done done) {
  std::unique_ptr<PumpedSession> s(new PumpedSession(id, executor, std::move(done)));
  s->samples_ = samples;
  s->stack_name_ = stack.info().id;
  s->peer_ = destination;
  if (Status made = s->make_stream_pair(nonblocking); !made) return made.error();
  auto connection = stack.connect(destination, L4Proto::tcp, *s);
  if (!connection) return connection.error();
  s->connection_ = std::move(*connection);
  s->connection_->set_nodelay(true);  // the pump already writes in large chunks; Nagle would only add delay
  return s;
}

std::unique_ptr<PumpedSession> PumpedSession::adopt(std::uint64_t id, std::unique_ptr<Connection> connection,
                                                    UniqueFd ours, const std::string& stack,
                                                    kernel::EpollExecutor& executor, PathSampleSink* samples,
                                                    Done done) {
  std::unique_ptr<PumpedSession> s(new PumpedSession(id, executor, std::move(done)));
  s->samples_ = samples;
  s->stack_name_ = stack;
  s->connection_ = std::move(connection);
  s->connection_->set_events(*s);
  s->connection_->set_nodelay(true);
  s->ours_ = std::move(ours);
  if (auto local = s->connection_->local_endpoint()) s->local_ = *local;
  if (auto peer = s->connection_->remote_endpoint()) s->peer_ = *peer;
  s->state_ = SessionState::established;
  s->report_progress(false);
  s->update_interest();
  s->pump_down();  // what arrived before the program's listener accepted
  return s;
}

void PumpedSession::report_progress(bool final) {
  if (!samples_ || !connection_ || state_ != SessionState::established) return;
  const TimePoint now = executor_.now();
  const ConnectionMetrics current = connection_->metrics();
  if (last_report_ >= TimePoint::zero()) {
    if (auto sample = progress_sample(stack_name_, reported_, current, now, now - last_report_, 64 * 1024, final))
      samples_->on_sample(*sample);
  }
  last_report_ = now;
  reported_ = current;
}

Status PumpedSession::make_stream_pair(bool nonblocking) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0)
    return kernel::last_sys_error("socketpair");
  program_ = UniqueFd(pair[0]);
  ours_ = UniqueFd(pair[1]);
  {
    // Unwritable until connected: the smallest send buffer, filled (the filler waits unread in ours_).
    socklen_t len = sizeof program_sndbuf_;
    ::getsockopt(program_.get(), SOL_SOCKET, SO_SNDBUF, &program_sndbuf_, &len);
    const int smallest = 1;
    ::setsockopt(program_.get(), SOL_SOCKET, SO_SNDBUF, &smallest, sizeof smallest);
    char filler[4096];
    std::memset(filler, 'f', sizeof filler);
    for (;;) {
      const ssize_t n = ::send(program_.get(), filler, sizeof filler, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n <= 0) break;
      filler_ += static_cast<std::size_t>(n);
    }
    hold_ = UniqueFd(::fcntl(program_.get(), F_DUPFD_CLOEXEC, 0));
    if (!hold_) return kernel::last_sys_error("dup");
  }
  // O_NONBLOCK belongs to the open file the program gets; the daemon only ever uses MSG_DONTWAIT on it.
  if (!nonblocking && ::fcntl(program_.get(), F_SETFL, ::fcntl(program_.get(), F_GETFL) & ~O_NONBLOCK) != 0)
    return kernel::last_sys_error("fcntl");
  return {};
}

Endpoint PumpedSession::local() const {
  if (connection_)
    if (auto local = connection_->local_endpoint()) return *local;
  return local_;
}

ConnectionMetrics PumpedSession::metrics() const { return connection_ ? connection_->metrics() : final_metrics_; }

void PumpedSession::on_connected() {
  if (state_ != SessionState::connecting) return;
  state_ = SessionState::established;
  report_progress(false);  // the first look: later ones report what moved since
  if (auto local = connection_->local_endpoint()) local_ = *local;
  // The filler first (it precedes anything the program writes), then the program's normal send buffer back.
  std::byte sink[4096];
  while (filler_ > 0) {
    const ssize_t n = ::recv(ours_.get(), sink, std::min(filler_, sizeof sink), MSG_DONTWAIT);
    if (n <= 0) break;
    filler_ -= static_cast<std::size_t>(n);
  }
  if (hold_) {
    const int size = program_sndbuf_ / 2;  // the kernel doubles what is set, and reported the doubled value
    if (size > 0) ::setsockopt(hold_.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    hold_.reset();
  }
  update_interest();
  pump_down();
  pump_up();
}

void PumpedSession::on_failed(const Error& error) {
  fail(error.code != 0 ? error.code : EIO, error.message);
}

void PumpedSession::on_readable() { pump_down(); }
void PumpedSession::on_writable() { pump_up(); }
void PumpedSession::on_peer_closed() { pump_down(); }

void PumpedSession::on_ours(std::uint32_t events) {
  if (done_reported_) return;
  if (events & EPOLLOUT) pump_down();
  if (done_reported_) return;
  // The program gone (EPOLLHUP that is not our own shutdown meeting the program's) reads nothing more of ours;
  // what it wrote before still goes up, to the end of its stream.
  if ((events & EPOLLHUP) && !down_shut_) program_gone_ = true;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) pump_up();
  if (done_reported_) return;
  maybe_done();
}

void PumpedSession::pump_up() {
  if (done_reported_ || state_ != SessionState::established) return;
  for (;;) {
    if (up_off_ < up_.size()) {
      auto took = connection_->send(up_.filled().subspan(up_off_));
      if (!took) {
        fail(took.error().code, took.error().message);
        return;
      }
      up_off_ += *took;
      if (up_off_ < up_.size()) break;  // the stack is full: on_writable() brings us back
    }
    up_.clear();
    up_off_ = 0;
    if (program_ended_) break;
    const std::span<std::byte> room = up_.room();
    const ssize_t n = ::recv(ours_.get(), room.data(), room.size(), MSG_DONTWAIT);
    if (n > 0) {
      up_.fill(static_cast<std::size_t>(n));
      continue;
    }
    up_.clear();
    if (n == 0) {
      program_ended_ = true;
      break;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
    program_ended_ = program_gone_ = true;  // ECONNRESET: it closed with our data unread: its stream ends here
    break;
  }
  if (program_ended_ && up_off_ >= up_.size() && !up_shut_) {
    connection_->shutdown_write();
    up_shut_ = true;
  }
  update_interest();
  maybe_done();
}

void PumpedSession::pump_down() {
  if (done_reported_ || state_ != SessionState::established) return;
  while (!program_gone_) {
    if (down_off_ < down_.size()) {
      const ssize_t n = ::send(ours_.get(), down_.filled().data() + down_off_, down_.size() - down_off_,
                               MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;  // EPOLLOUT brings us back
        program_gone_ = true;  // EPIPE: it closed every copy
        break;
      }
      down_off_ += static_cast<std::size_t>(n);
      if (down_off_ < down_.size()) continue;
    }
    down_.clear();
    down_off_ = 0;
    if (peer_ended_) {
      if (!down_shut_) {
        ::shutdown(ours_.get(), SHUT_WR);  // the program reads its end of stream after the data
        down_shut_ = true;
      }
      break;
    }
    auto got = connection_->receive(down_.room());
    if (!got) {
      down_.clear();
      if (got.error().code == EAGAIN || got.error().code == EWOULDBLOCK) break;
      fail(got.error().code, got.error().message);
      return;
    }
    down_.fill(*got);
    if (*got == 0) peer_ended_ = true;
  }
  update_interest();
  maybe_done();
}

void PumpedSession::update_interest() {
  if (done_reported_ || !ours_ || state_ != SessionState::established) return;
  // Level-triggered: a condition we cannot act on yet must not be asked for, or the loop spins on it. Once the
  // program's stream has ended, its RDHUP says nothing new; once nothing more can go down either, nothing about
  // our end is news (EPOLLHUP, which cannot be masked, included): stop watching it.
  if (program_ended_ && (program_gone_ || down_shut_)) {
    if (watching_) executor_.unwatch(ours_.get());
    watching_ = false;
    return;
  }
  std::uint32_t want = 0;
  if (!program_ended_) want |= EPOLLRDHUP;
  if (!program_ended_ && up_off_ >= up_.size()) want |= EPOLLIN;
  if (down_off_ < down_.size()) want |= EPOLLOUT;
  if (watching_ && want == interest_) return;
  if (!watching_) {
    if (Status s = executor_.watch(ours_.get(), want, [this](std::uint32_t events) { on_ours(events); }); !s) {
      fail(s.error().code, "cannot watch the session's socket: " + s.error().message);
      return;
    }
    watching_ = true;
  } else if (Status s = executor_.modify(ours_.get(), want); !s) {
    fail(s.error().code, "cannot watch the session's socket: " + s.error().message);
    return;
  }
  interest_ = want;
}

void PumpedSession::fail(int code, const std::string& why) {
  if (done_reported_) return;
  error_ = code;
  why_ = why;
  // The daemon's end closes with the filler (or the program's data) unread: the program's end reports an error
  // (ECONNRESET on read, EPOLLERR|EPOLLHUP), and writes fail with EPIPE.
  finish(SessionState::failed);
}

void PumpedSession::maybe_done() {
  if (done_reported_) return;
  // Up: everything the program wrote went to the stack, then its FIN. Down: the peer's end reached the program,
  // or nobody is left to read it. A gone program whose stream is not all up yet keeps the session until it is.
  const bool up_done = up_shut_;
  const bool down_done = down_shut_ || program_gone_;
  if (up_done && down_done) finish(SessionState::closed);
}

void PumpedSession::finish(SessionState state) {
  if (done_reported_) return;
  if (state == SessionState::failed && samples_) {
    PathSample failed;
    failed.stack = stack_name_;
    failed.at = executor_.now();
    failed.failure = true;  // could not be set up, or died on this stack
    samples_->on_sample(failed);
  } else {
    report_progress(true);
  }
  done_reported_ = true;
  state_ = state;
  if (watching_) executor_.unwatch(ours_.get());
  watching_ = false;
  if (connection_) {
    if (auto local = connection_->local_endpoint()) local_ = *local;
    final_metrics_ = connection_->metrics();
    // A graceful close: what the stack holds still goes out, then the FIN (a failed connection just goes).
    connection_->close();
    connection_.reset();
  }
  hold_.reset();
  ours_.reset();
  executor_.post([done = done_, id = id_] { done(id); });
}

}  // namespace dmm::service
