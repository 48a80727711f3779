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
      writable_(other.writable_),
      shut_(other.shut_) {}

ReadinessMirror::~ReadinessMirror() {
  if (app_ >= 0) real().close(app_);
  if (control_ >= 0) real().close(control_);
}

int ReadinessMirror::release_app_end() { return std::exchange(app_, -1); }

void ReadinessMirror::set_readable(bool readable) {
  if (readable == readable_ || shut_) return;
  if (readable) {
    const char marker = 'r';
    if (real().send(control_, &marker, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1) readable_ = true;
  } else {
    readable_ = false;  // the application side consumes the marker (consume_marker_from)
  }
}

void ReadinessMirror::consume_marker_from(int app_fd) {
  char marker;
  while (real().recv(app_fd, &marker, 1, MSG_DONTWAIT) < 0 && errno == EINTR) {
  }
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
