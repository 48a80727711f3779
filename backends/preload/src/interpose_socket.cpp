// socket, accept, accept4, close: keeping the fd table in step with the program's sockets.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "export.hpp"
#include "fd_bookkeeping.hpp"
#include "nrd_subscription.hpp"
#include "real_calls.hpp"
#include "shim_guard.hpp"
#include "shim_state.hpp"

using namespace dmm::preload;

DMM_INTERPOSE int socket(int domain, int type, int protocol) __THROW {
  // The placeholder is a real socket in the program's own namespace, so the program holds a real fd (select,
  // poll, fcntl, getsockopt all work) before any decision.
  const int fd = real().socket(domain, type, protocol);
  if (fd < 0 || inside_shim()) return fd;
  const int saved_errno = errno;
  if (start_shim_if_due()) note_new_socket(fd, domain, type, protocol);
  errno = saved_errno;
  return fd;
}

namespace {
int after_accept(int listener, int fd) {
  if (fd < 0 || inside_shim() || !active_shim()) return fd;
  const int saved_errno = errno;
  note_accepted(listener, fd);
  errno = saved_errno;
  return fd;
}
}  // namespace

DMM_INTERPOSE int accept(int fd, sockaddr* address, socklen_t* length) {
  return after_accept(fd, real().accept(fd, address, length));
}

DMM_INTERPOSE int accept4(int fd, sockaddr* address, socklen_t* length, int flags) {
  return after_accept(fd, real().accept4(fd, address, length, flags));
}

DMM_INTERPOSE int close(int fd) {
  // Forget first, close second: once closed, the number may be handed to another thread's new socket, whose
  // fresh record we must not wipe.
  const int saved_errno = errno;
  nrd_session_closing(fd);  // its last TCP_INFO for dmm-nrd, while the fd still is the session
  forget_fd(fd);
  if (Shim* shim = active_shim()) shim->log().forget_fd(fd);
  errno = saved_errno;
  return real().close(fd);
}
