#pragma once
// One TCP session of a user-space stack instance that dmm-stackd runs, as a program sees it: a real kernel fd — one
// end of an AF_UNIX SOCK_STREAM socketpair — whose other end the daemon pumps to and from the instance's Connection
// (UDP sessions are DatagramSession's). The program's
// data path is the kernel's (read, write, sendfile, splice, stdio, raw system calls, fork, exec, dup all work
// unchanged); the daemon moves the bytes.
//
// Connecting: the program's end starts unwritable (its send buffer is filled with filler bytes that sit unread in
// the daemon's end, the readiness-mirror trick), so a non-blocking connect sees EINPROGRESS semantics: POLLOUT
// when the handshake is over. The daemon keeps a copy of the program's end until then, to give it its normal send
// buffer back; the filler, written before anything of the program's, is discarded in order. A connection that
// fails closes the daemon's end with the filler unread: the program's end reports EPOLLERR|EPOLLHUP and reads
// ECONNRESET, as a kernel socket whose connect failed (the shim's SO_ERROR names the real errno, from status()).
//
// Everything runs on the daemon's executor thread.
#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/service/messages.hpp"
#include "dmm/path_sample.hpp"
#include "dmm/stack.hpp"
#include "hosted_session.hpp"

namespace dmm::service {

// One direction's bytes in flight: a 64 KiB block allocated on first use and never zeroed. Bytes moved per system
// call and per step: a large block keeps the number of wake-ups per megabyte low; a session never holds more than
// one block each way (the rest waits in the program's socket or in the stack). (A std::vector
// resized to 64 KiB before each read wrote 64 KiB of zeros per read: 18% of the daemon's CPU under
// redis-benchmark.)
class PumpBuffer {
public:
  static constexpr std::size_t kCapacity = 64 * 1024;
  // Where the next read goes; fill() then says how much it put there.
  std::span<std::byte> room() {
    if (!bytes_) bytes_ = std::make_unique_for_overwrite<std::byte[]>(kCapacity);
    return {bytes_.get(), kCapacity};
  }
  void fill(std::size_t n) { size_ = n; }
  void clear() { size_ = 0; }
  std::size_t size() const { return size_; }
  std::span<const std::byte> filled() const { return {bytes_.get(), size_}; }

private:
  std::unique_ptr<std::byte[]> bytes_;
  std::size_t size_ = 0;
};

class PumpedSession final : public HostedSession, public ConnectionEvents {
public:
  using Done = std::function<void(std::uint64_t id)>;  // the session ended; called once, from the executor

  // Makes the pair and starts the connection. The stack's immediate error (no route) is returned as it is.
  // `samples` (may be null): where the session's path samples go (dmm-nrd), as the shim reports a kernel
  // session's: progress while it lives (report_progress), once more when it ends, a failure when it fails.
  static Result<std::unique_ptr<PumpedSession>> open(std::uint64_t id, Stack& stack, const Endpoint& destination,
                                                     bool nonblocking, kernel::EpollExecutor& executor,
                                                     PathSampleSink* samples, Done done);
  // A connection a listener of the instance accepted (established already), pumped through `ours`, whose other
  // end the program accepts from its listener.
  static std::unique_ptr<PumpedSession> adopt(std::uint64_t id, std::unique_ptr<Connection> connection,
                                              kernel::UniqueFd ours, const std::string& stack,
                                              kernel::EpollExecutor& executor, PathSampleSink* samples, Done done);
  ~PumpedSession() override;
  PumpedSession(const PumpedSession&) = delete;
  PumpedSession& operator=(const PumpedSession&) = delete;

  // HostedSession
  int program_end() const override { return program_.get(); }
  void program_end_sent() override { program_.reset(); }
  std::uint64_t id() const override { return id_; }
  SessionState state() const override { return state_; }
  int error() const override { return error_; }
  const std::string& why() const override { return why_; }
  Endpoint local() const override;
  void report_progress(bool final) override;
  const std::string& stack_name() const override { return stack_name_; }

  ConnectionMetrics metrics() const;
  const Endpoint& peer() const { return peer_; }

  // ConnectionEvents (the stack's, on the executor)
  void on_connected() override;
  void on_failed(const Error& error) override;
  void on_readable() override;
  void on_writable() override;
  void on_peer_closed() override;

private:
  PumpedSession(std::uint64_t id, kernel::EpollExecutor& executor, Done done);
  Status make_stream_pair(bool nonblocking);
  void on_ours(std::uint32_t events);
  void pump_up();    // program -> stack
  void pump_down();  // stack -> program
  void update_interest();
  void fail(int code, const std::string& why);
  void finish(SessionState state);  // closes everything, reports done (later, on the executor)
  void maybe_done();

  const std::uint64_t id_;
  kernel::EpollExecutor& executor_;
  Done done_;
  std::string stack_name_;
  std::unique_ptr<Connection> connection_;
  kernel::UniqueFd ours_;      // the daemon's end
  kernel::UniqueFd program_;   // the program's end until it is sent
  kernel::UniqueFd hold_;      // a copy of the program's end while connecting (to restore its send buffer)
  int program_sndbuf_ = 0;     // its send buffer before the filler
  std::size_t filler_ = 0;     // filler bytes waiting unread in ours_
  SessionState state_ = SessionState::connecting;
  int error_ = 0;
  std::string why_;
  Endpoint local_;
  Endpoint peer_;
  ConnectionMetrics final_metrics_;
  bool watching_ = false;
  std::uint32_t interest_ = 0;
  PumpBuffer up_;    // read from the program, not yet taken by the stack
  std::size_t up_off_ = 0;
  PumpBuffer down_;  // received from the stack, not yet written to the program
  std::size_t down_off_ = 0;
  bool program_ended_ = false;   // the program shut its sending side or closed (EOF read)
  bool program_gone_ = false;    // it closed every copy of its end (EPOLLHUP, EPIPE)
  bool up_shut_ = false;         // the stack was told the program ended (shutdown_write)
  bool peer_ended_ = false;      // the stack's peer ended its stream
  bool down_shut_ = false;       // the program was told (shutdown of ours)
  bool done_reported_ = false;
  PathSampleSink* samples_ = nullptr;
  TimePoint last_report_{-1};      // when report_progress last looked (-1: never)
  ConnectionMetrics reported_;     // what it saw then
};

}  // namespace dmm::service
