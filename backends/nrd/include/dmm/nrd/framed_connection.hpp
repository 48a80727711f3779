#pragma once
// One stream socket carrying sync-protocol frames, driven by an EpollExecutor: reads are cut into frames
// (FrameReader), writes go through a bounded queue. Shared by the daemon (one per peer) and the clients (the
// shim's subscription, dmm-ctl, tools), so both ends frame, bound and fail alike.
//
// Bounded both ways: a frame longer than `max_body` ends the connection (oversized); a peer that does not read
// makes send() refuse (ENOBUFS) once `max_queued_bytes` wait, so one slow reader cannot make its sender grow
// without end. Events arrive on the executor's thread, never from inside send() or close().
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/nrd/wire.hpp"

namespace dmm::nrd {

class FramedConnection {
public:
  class Events {
  public:
    virtual ~Events() = default;
    virtual void on_connected() {}  // only for a connection created `connecting`
    virtual void on_frame(Frame frame) = 0;
    // The peer's bytes are not the protocol (a DecodeProblem: bad magic, oversized, ...) or the stream ended
    // inside a frame. The socket is still open: the owner may close_with() an error message. If it leaves the
    // connection open, on_closed(problem) follows at once.
    virtual void on_protocol_error(const Error&) {}
    // The connection is over: nullopt for a clean end of stream, else why (a socket error, or a DecodeProblem
    // from the peer's bytes: the frame is lost, so is the stream). Nothing is delivered afterwards; the owner may
    // destroy the connection inside this callback.
    virtual void on_closed(const std::optional<Error>& why) = 0;
  };

  struct Limits {
    std::size_t max_body = kDefaultMaxBody;
    std::size_t max_queued_bytes = 4u << 20;
    std::size_t read_chunk = 64u << 10;  // bytes read per readiness event: peers take turns
  };

  // `fd` is a non-blocking stream socket; `connecting`: its connect is in progress.
  static Result<std::unique_ptr<FramedConnection>> create(kernel::UniqueFd fd, bool connecting,
                                                          kernel::EpollExecutor& executor, Events& events,
                                                          Limits limits);
  ~FramedConnection();  // closes; no events
  FramedConnection(const FramedConnection&) = delete;
  FramedConnection& operator=(const FramedConnection&) = delete;

  // Queues a whole frame (encode()'s output) and writes what the socket takes now. ENOBUFS, and nothing queued,
  // if the queue would pass max_queued_bytes; ENOTCONN once closed or dead. May be called while connecting.
  Status send(std::string frame);
  // Stops at once: no more events; queued bytes the socket did not take are dropped.
  void close();
  // A last word, then close(): `frame` joins the queue (whatever its limit), one non-blocking write is tried.
  // Best effort by design: a peer that is refused or misbehaves gets no more of the daemon's time.
  void close_with(std::string frame);

  bool open() const { return !closed_ && !dead_; }
  bool connecting() const { return connecting_; }
  std::size_t queued_bytes() const { return queued_bytes_; }
  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }
  std::uint64_t frames_in() const { return frames_in_; }
  int fd() const { return fd_.get(); }

private:
  FramedConnection(kernel::UniqueFd fd, bool connecting, kernel::EpollExecutor& executor, Events& events,
                   Limits limits);
  void on_io(std::uint32_t events);
  bool read_some();   // false once the connection is over (events delivered)
  bool flush();       // false on a write error (the end is then owed to the owner)
  bool protocol_error(const Error& error);  // tells the owner; always false (the stream is over)
  void update_interest();
  // The connection is over; tells the owner now (`now`: we are in an I/O callback) or on the next turn.
  void end(std::optional<Error> why, bool now);
  void release();

  kernel::UniqueFd fd_;
  kernel::EpollExecutor& executor_;
  Events& events_;
  Limits limits_;
  FrameReader reader_;
  std::deque<std::string> queue_;
  std::size_t queue_offset_ = 0;  // bytes of queue_.front() already written
  std::size_t queued_bytes_ = 0;
  bool connecting_;
  bool want_write_ = false;
  bool closed_ = false;  // by the owner
  bool dead_ = false;    // by the peer or an error; on_closed delivered or owed
  std::uint64_t bytes_in_ = 0, bytes_out_ = 0, frames_in_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // expires with this object; guards callbacks
};

}  // namespace dmm::nrd
