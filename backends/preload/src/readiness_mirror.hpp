#pragma once
// The kernel fd an application holds for a user-space session (DESIGN.md §2.4): one end of an AF_UNIX stream
// socketpair, whose readiness the shim sets to mirror the user-space connection, so that poll, select and epoll
// work on it unchanged, next to kernel sockets. The shim keeps the other end ("control").
//
//   readable   <=> the control end has sent marker bytes (data, end of stream or an error is waiting); one more
//                  per arrival of new data, so that edge-triggered epoll sees an edge for it
//   writable   <=> the application end's send buffer is empty; made unwritable by filling it (the filler sits
//                  unread in the control end), writable again by draining the control end
//   end/error  <=> the control end shut down its sending side: POLLIN|POLLRDHUP, and writable (so that readers
//                  and writers wake up and meet the end or the error in the shim's read or write). POLLHUP and
//                  POLLERR cannot be mirrored this way; programs read the error from SO_ERROR or the next call.
// The application never reads the marker or writes the filler itself: every data call on the fd is the shim's.
// When the application has closed every copy of its fd (dup, fork, exec included), the control end sees EOF —
// the kernel counts the references for us.
//
// Not thread-safe: the session serialises calls (its mutex).
#include "dmm/result.hpp"

namespace dmm::preload {

class ReadinessMirror {
public:
  // A new pair; the application end has `nonblocking` set (the program's O_NONBLOCK) and starts neither
  // readable nor writable (a connection being set up). Both ends close-on-exec; the control end sits at a high
  // fd number, out of the program's way.
  static Result<ReadinessMirror> create(bool nonblocking);
  ReadinessMirror(ReadinessMirror&& other) noexcept;
  ReadinessMirror& operator=(ReadinessMirror&&) = delete;
  ~ReadinessMirror();  // closes both ends we still hold

  int app_fd() const { return app_; }
  int control_fd() const { return control_; }
  // Hands the application end over (it is dup3'ed onto the program's fd number and this copy closed).
  int release_app_end();

  // Control side (the stack thread): a marker for the application end to see; or nothing to read any more
  // (the application side consumes the marker: consume_marker_from).
  void set_readable(bool readable);
  // Writable again: the control end drains the filler.
  void make_writable();
  // Unwritable: filler written through `app_fd`, a copy of the application end that is valid for the duration
  // of the call (the program's own fd, inside the program's write; or ours before release_app_end). The shim
  // keeps no copy of the application end, or it could never see the program close its last one.
  void make_unwritable(int app_fd);
  bool writable() const { return writable_; }
  // The peer ended its stream: readable for good (reads return 0), POLLRDHUP.
  void set_end_of_stream();
  // The connection failed: readable, writable and end of stream, for good.
  void set_failed();
  // The application closed every copy of its end (the control end reads EOF).
  bool app_gone() const;

  // The marker, read from the application side (the shim, on behalf of a read that emptied the buffer).
  void consume_marker_from(int app_fd);

private:
  ReadinessMirror(int app, int control) : app_(app), control_(control) {}

  int app_ = -1;
  int control_ = -1;
  static constexpr int kMaxMarkers = 64;
  bool readable_ = false;
  int markers_ = 0;  // marker bytes sent since the application side last consumed them
  bool writable_ = false;
  bool shut_ = false;
};

}  // namespace dmm::preload
