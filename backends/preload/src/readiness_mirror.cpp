#include "readiness_mirror.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "real_calls.hpp"

namespace dmm::preload {

Result<ReadinessMirror> ReadinessMirror::create(bool nonblocking) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) != 0)
    return make_error(errno, std::string("socketpair: ") + std::strerror(errno));
  int control = ::fcntl(pair[1], F_DUPFD_CLOEXEC, kernel::high_fd_floor(256));
  if (control >= 0) {
    real().close(pair[1]);
  } else {
    control = pair[1];
  }
  // The smallest send buffer: few bytes of filler make the application end unwritable.
  const int small = 1;
  ::setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  if (!nonblocking) ::fcntl(pair[0], F_SETFL, ::fcntl(pair[0], F_GETFL) & ~O_NONBLOCK);
  ReadinessMirror mirror(pair[0], control);
  mirror.writable_ = true;
  mirror.make_unwritable(pair[0]);  // not writable until connected
  return mirror;
}

ReadinessMirror::ReadinessMirror(ReadinessMirror&& other) noexcept
    : app_(std::exchange(other.app_, -1)),
      control_(std::exchange(other.control_, -1)),
      readable_(other.readable_),
      markers_(other.markers_),
      writable_(other.writable_),
      shut_(other.shut_) {}

ReadinessMirror::~ReadinessMirror() {
  if (app_ >= 0) real().close(app_);
  if (control_ >= 0) real().close(control_);
}

int ReadinessMirror::release_app_end() { return std::exchange(app_, -1); }

void ReadinessMirror::set_readable(bool readable) {
  if (shut_) return;
  if (!readable) {
    readable_ = false;  // the application side consumes the markers (consume_marker_from)
    return;
  }
  // One marker more each time new data arrives, also while readable already: an edge-triggered epoll sees a new
  // edge for new data, as with a kernel socket. Bounded: a program that never reads gets no more edges past it.
  if (markers_ >= kMaxMarkers) return;
  const char marker = 'r';
  if (real().send(control_, &marker, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1) {
    readable_ = true;
    ++markers_;
  }
}

void ReadinessMirror::consume_marker_from(int app_fd) {
  // One read takes them all: at most kMaxMarkers are ever unread, and none is sent meanwhile (the session's
  // mutex serialises both sides). Nothing to read, nothing to do: no call that would only answer EAGAIN.
  if (markers_ == 0) return;
  char markers[kMaxMarkers];
  ssize_t n;
  while ((n = real().recv(app_fd, markers, sizeof markers, MSG_DONTWAIT)) < 0 && errno == EINTR) {
  }
  markers_ = 0;
}

void ReadinessMirror::make_writable() {
  if (writable_ || shut_) return;
  char buffer[4096];
  // Markers travel the other way (control -> app): everything the control end can read is filler.
  while (real().recv(control_, buffer, sizeof buffer, MSG_DONTWAIT) > 0) {
  }
  writable_ = true;
}

void ReadinessMirror::make_unwritable(int app_fd) {
  if (!writable_ || shut_) return;
  char filler[4096];
  std::memset(filler, 'f', sizeof filler);
  while (real().send(app_fd, filler, sizeof filler, MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
  }
  writable_ = false;
}

void ReadinessMirror::set_end_of_stream() {
  if (shut_) return;
  ::shutdown(control_, SHUT_WR);  // the application end reads 0 once the marker (if any) is gone
}

void ReadinessMirror::set_failed() {
  if (shut_) return;
  make_writable();
  set_readable(true);
  // Only our sending side: the control end must still see the program close its last copy (RDHUP), and a
  // full shutdown would look exactly like that.
  ::shutdown(control_, SHUT_WR);
  shut_ = true;
}

bool ReadinessMirror::app_gone() const {
  // RDHUP, not a read: filler may still sit unread in the control end.
  pollfd p{control_, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP));
}

}  // namespace dmm::preload
