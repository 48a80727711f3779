// socket, accept, accept4, close: keeping the fd table in step with the program's sockets.
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "export.hpp"
#include "fd_bookkeeping.hpp"
#include "nrd_subscription.hpp"
#include "real_calls.hpp"
#include "service_fd.hpp"
#include "shim_guard.hpp"
#include "shim_state.hpp"

using namespace dmm::preload;

namespace {

// socket() from a signal handler that interrupted this thread while the shim had it in another network
// namespace (making a socket on a stack there): the program's socket must still be made in its own namespace.
// Only async-signal-safe calls; the thread ends in whatever namespace it was interrupted in.
int socket_interrupting_switch(int home_fd, int domain, int type, int protocol) {
  const int interrupted = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (interrupted < 0) return -1;
  int fd = -1;
  if (::setns(home_fd, CLONE_NEWNET) == 0) {
    fd = static_cast<int>(::syscall(SYS_socket, domain, type, protocol));
    const int saved_errno = errno;
    // Cannot fail short of ENOMEM for a namespace we hold open; if it did, the interrupted code's own switch
    // back (it always restores its home) puts the thread right.
    (void)::setns(interrupted, CLONE_NEWNET);
    errno = saved_errno;
  }
  ::close(interrupted);
  return fd;
}

// A plain TCP socket made directly on the stack the shim predicts (Shim::predicted_stack), or -1 (then the
// caller makes it in the program's own namespace, as with no prediction). From the socket pool when it has one
// ready: dup'ed to the lowest free number (what socket() would have returned) and its parked copy closed.
int socket_on_predicted_stack(Shim& shim, int domain, int type, int protocol, int& stack, KnownIdentity& known,
                              bool& identified) {
  stack = shim.predicted_stack(domain, type, protocol);
  if (stack == kNoStack) return -1;
  if (SocketPools* pools = shim.pools()) {
    PooledSocket pooled;
    if (pools->take(PoolKey{stack, domain, SOCK_STREAM, (type & SOCK_NONBLOCK) != 0}, pooled)) {
      const int fd = real().fcntl(pooled.fd, (type & SOCK_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
      real().close(pooled.fd);
      if (fd >= 0) {
        known = KnownIdentity{pooled.dev, pooled.ino};
        identified = true;
        return fd;
      }
    }
  }
  InsideShim guard;
  return shim.sources().make_for_socket_call(shim.stack(stack), domain, type, protocol);
}

}  // namespace

DMM_INTERPOSE int socket(int domain, int type, int protocol) __THROW {
  if (inside_shim()) {
    if (t_switch_home_fd >= 0) return socket_interrupting_switch(t_switch_home_fd, domain, type, protocol);
    return real().socket(domain, type, protocol);
  }
  Shim* shim = start_shim_if_due();
  const int saved_errno = errno;
  if (shim) {
    int stack = kNoStack;
    KnownIdentity known;
    bool identified = false;
    if (const int fd = socket_on_predicted_stack(*shim, domain, type, protocol, stack, known, identified); fd >= 0) {
      note_new_socket(fd, domain, type, protocol, stack, identified ? &known : nullptr);
      errno = saved_errno;
      return fd;
    }
  }
  // The placeholder is a real socket in the program's own namespace, so the program holds a real fd (select,
  // poll, fcntl, getsockopt all work) before any decision.
  const int fd = real().socket(domain, type, protocol);
  if (fd < 0) return fd;
  if (shim) note_new_socket(fd, domain, type, protocol);
  errno = saved_errno;
  return fd;
}

namespace {
// `capacity`: the size of the caller's address buffer, before the kernel wrote the length of the address it got.
int after_accept(int listener, int fd, sockaddr* address, socklen_t* length, socklen_t capacity) {
  if (fd < 0 || inside_shim() || !active_shim()) return fd;
  const int saved_errno = errno;
  // A connection of a user-space instance's listener (dmm-stackd): its addresses come first on the stream.
  bool handled = false;
  const int accepted = service_after_accept(listener, fd, address, length, capacity, handled);
  if (handled) return accepted;  // errno as service_after_accept left it
  note_accepted(listener, fd);
  errno = saved_errno;
  return fd;
}
}  // namespace

DMM_INTERPOSE int accept(int fd, sockaddr* address, socklen_t* length) {
  const socklen_t capacity = length ? *length : 0;
  return after_accept(fd, real().accept(fd, address, length), address, length, capacity);
}

DMM_INTERPOSE int accept4(int fd, sockaddr* address, socklen_t* length, int flags) {
  const socklen_t capacity = length ? *length : 0;
  return after_accept(fd, real().accept4(fd, address, length, flags), address, length, capacity);
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
