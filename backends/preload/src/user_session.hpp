#pragma once
// One TCP or UDP session of a user-space stack, as the application sees it: a kernel fd (ReadinessMirror's
// application end) plus buffers that the application's threads and the stack share. Stack work (moving bytes
// between the buffers and the Connection) runs under the shared loop's lock — on the stack thread, or on an
// application thread that pushes its own write or takes the frames while it waits (UserStacks::call and
// drive_until) — so lwIP sees one thread at a time; the buffers are guarded by the session's mutex, taken after
// the loop lock, never before it. Blocking calls wait on the application's own fd, whose readiness mirrors the
// buffers: a blocking and a non-blocking program see what a kernel socket shows (EAGAIN, EINPROGRESS, SO_ERROR,
// end of stream, reset).
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "dmm/stack.hpp"
#include "readiness_mirror.hpp"
#include "user_stacks.hpp"

namespace dmm::preload {

// A byte ring of fixed capacity.
class ByteRing {
public:
  explicit ByteRing(std::size_t capacity) : data_(capacity) {}
  std::size_t size() const { return size_; }
  std::size_t room() const { return data_.size() - size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == data_.size(); }
  std::size_t put(const std::byte* from, std::size_t n);
  std::size_t take(std::byte* to, std::size_t n, bool peek = false);
  // The longest run of stored bytes that is contiguous in memory (for Connection::send without a copy).
  std::span<const std::byte> front() const;
  void drop(std::size_t n);
  // The longest run of free room that is contiguous (for Connection::receive straight into the ring).
  std::span<std::byte> back();
  void commit(std::size_t n);

private:
  std::vector<std::byte> data_;
  std::size_t head_ = 0;  // first stored byte
  std::size_t size_ = 0;
};

class UserSession final : public ConnectionEvents, public std::enable_shared_from_this<UserSession> {
public:
  static constexpr std::size_t kBufferBytes = 256 * 1024;

  UserSession(UserStacks& stacks, L4Proto proto, ReadinessMirror mirror, Endpoint peer);
  ~UserSession() override;

  // ---- the thread that decides (an application thread) ----
  // Starts the connection on the stack thread and waits for its immediate outcome (ENETUNREACH: the ranked list
  // may move on). On success the application end can be handed over.
  Status start_connect(Stack& stack);
  // The application end never reached the program (a failure after start_connect), or is no longer behind its fd
  // (another attempt of a race won): the connection is closed on the stack thread, where it lives, and a session
  // still connecting is over (ECONNABORTED; no sample for nRD: it did not fail).
  void abandon();
  ReadinessMirror& mirror() { return mirror_; }
  // Identity of the application end (for stale-record checks).
  void set_app_identity(dev_t dev, ino_t ino) { app_dev_ = dev, app_ino_ = ino; }
  bool is_app_end(dev_t dev, ino_t ino) const { return dev == app_dev_ && ino == app_ino_; }

  // ---- application threads: POSIX semantics (return value and errno as the kernel's call) ----
  // connect() after the decision: 0, or -1 with EINPROGRESS (non-blocking) or the failure.
  int finish_connect(int fd);
  // A later connect() on the same fd: EALREADY while connecting, EISCONN once connected, the failure once.
  int connect_again(int fd);
  // SO_RCVTIMEO / SO_SNDTIMEO (zero: no limit): a blocking call gives up with EAGAIN (connect: EINPROGRESS).
  void set_timeouts(std::optional<Duration> receive, std::optional<Duration> send);
  ssize_t receive(int fd, const iovec* iov, int iovcnt, int flags);
  ssize_t send(int fd, const iovec* iov, int iovcnt, int flags);
  int shutdown(int how);
  int socket_error(bool clear);  // SO_ERROR
  bool connected();
  // How the connection stands, for a race watching it (connect_race.hpp): 0 connecting, 1 established, -errno
  // failed (the error stays for the program's SO_ERROR).
  int connect_state();
  std::size_t readable_bytes();  // FIONREAD
  Endpoint peer() const { return peer_; }
  Endpoint local();
  ConnectionMetrics metrics();
  int set_nodelay(bool on);
  L4Proto proto() const { return proto_; }
  // Options the program set on the session (setsockopt succeeds; what a user-space stack can act on, it does),
  // so that getsockopt reads back what was set.
  void remember_option(int level, int name, const void* value, socklen_t length);
  bool recall_option(int level, int name, void* value, socklen_t* length);

  // ---- stack work (under the loop lock): ConnectionEvents ----
  void on_connected() override;
  void on_failed(const Error& error) override;
  void on_readable() override;
  void on_writable() override;
  void on_peer_closed() override;
  // At the program's exit (stack thread): what the program wrote goes out, then the end of the stream; the
  // session stays until its fd is really closed, so late exit handlers still meet a socket (that cannot write).
  void end_for_exit();
  bool delivered();  // nothing left in the send buffer
  // The stack thread has stopped (UserStacks is being destroyed): the connection is closed on this thread.
  void close_when_stopped();
  // nRD's passive monitoring (stack thread): the session's progress since the last call, from the connection's
  // own metrics (lwIP's), with the rule nSocket uses (core progress_sample); reported via the nRD subscription.
  void report_progress(TimePoint now, bool final);
  void report_progress_now(TimePoint now) {
    const std::lock_guard lock(mutex_);
    report_progress(now, false);
  }

private:
  static bool nonblocking(int fd, int flags);
  int wait_connected(int fd);
  void pull_locked();  // connection -> rx ring (stack thread)
  void push_locked();  // tx ring -> connection (stack work)
  void send_datagram(const iovec* iov, int iovcnt, std::size_t total);
  void post_push();
  Status watch_control();
  void on_app_gone();
  void finish_if_done_locked();

  UserStacks& stacks_;
  const L4Proto proto_;
  StackId stack_name_;             // set by start_connect
  TimePoint last_report_{-1};      // stack thread: when report_progress last looked (-1: never)
  ConnectionMetrics reported_;     // stack thread: the metrics it saw then
  ReadinessMirror mirror_;
  Endpoint peer_;
  dev_t app_dev_ = 0;
  ino_t app_ino_ = 0;

  std::mutex mutex_;  // everything below
  std::unique_ptr<Connection> connection_;  // created, used and destroyed as stack work only (loop lock)
  enum class Phase { connecting, established, failed } phase_ = Phase::connecting;
  std::optional<int> error_;      // the failure's errno, until SO_ERROR reads it (the session stays failed)
  int failure_errno_ = 0;
  bool peer_ended_ = false;       // end of stream received (rx may still hold data)
  bool write_shut_ = false;       // the application shut its side down
  bool app_gone_ = false;         // every application copy of the fd is closed
  Duration receive_timeout_{0};   // SO_RCVTIMEO (zero: none)
  Duration send_timeout_{0};      // SO_SNDTIMEO
  bool push_posted_ = false;
  bool pull_posted_ = false;
  bool stack_wants_pull_ = false;  // the rx ring was full: the stack thread waits for room
  ByteRing rx_{kBufferBytes};
  ByteRing tx_{kBufferBytes};
  std::vector<std::vector<std::byte>> datagrams_;  // UDP: whole datagrams, in order (rx_ unused)
  // UDP: where a datagram is received before it is kept at its size; allocated once and never zeroed.
  std::unique_ptr<std::byte[]> datagram_buffer_;
  std::map<std::pair<int, int>, std::vector<std::byte>> options_;
};

// Sessions by id: the fd records carry the id, calls take a reference for their duration.
class UserSessions {
public:
  std::uint64_t add(std::shared_ptr<UserSession> session);
  std::shared_ptr<UserSession> find(std::uint64_t id);
  void remove(const UserSession* session);
  std::vector<std::shared_ptr<UserSession>> all();

private:
  std::mutex mutex_;
  std::uint64_t next_ = 1;
  std::map<std::uint64_t, std::shared_ptr<UserSession>> sessions_;
};

}  // namespace dmm::preload
