// The data path. Kernel sockets (and every other fd) pass straight to libc after one fd-table load; only the
// application ends of user-space sessions (FdState::user) are served here, by their UserSession.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <vector>

#include "export.hpp"
#include "fd_bookkeeping.hpp"
#include "shim_guard.hpp"
#include "shim_state.hpp"
#include "real_calls.hpp"
#include "sockaddr_view.hpp"
#include "service_fd.hpp"
#include "user_fd.hpp"

using namespace dmm::preload;

namespace {

ssize_t fail(int err) {
  errno = err;
  return -1;
}

ssize_t user_receive(const UserFd& u, int fd, const iovec* iov, int iovcnt, int flags, sockaddr* from,
                     socklen_t* from_length) {
  if (u.foreign) return fail(foreign_user_fd_error());
  const ssize_t n = u.session->receive(fd, iov, iovcnt, flags);
  if (n >= 0) put_endpoint(u.session->peer(), from, from_length);
  return n;
}

ssize_t user_send(const UserFd& u, int fd, const iovec* iov, int iovcnt, int flags) {
  if (u.foreign) return fail(foreign_user_fd_error());
  return u.session->send(fd, iov, iovcnt, flags);
}

// A read that met the end of a dmm-stackd session's stream: a reset reads as ECONNRESET, as on a kernel socket.
ssize_t ended(ssize_t n, int fd) {
  if (n == 0 && service_read_reset(fd)) return -1;
  return n;
}

}  // namespace

DMM_INTERPOSE ssize_t read(int fd, void* buffer, size_t size) {
  if (UserFd u = user_fd(fd)) {
    const iovec iov{buffer, size};
    return user_receive(u, fd, &iov, 1, 0, nullptr, nullptr);
  }
  return ended(real().read(fd, buffer, size), fd);
}

DMM_INTERPOSE ssize_t __read_chk(int fd, void* buffer, size_t size, size_t buffer_size) {
  if (UserFd u = user_fd(fd)) {
    const iovec iov{buffer, std::min(size, buffer_size)};
    return user_receive(u, fd, &iov, 1, 0, nullptr, nullptr);
  }
  return ended(real().read_chk(fd, buffer, size, buffer_size), fd);
}

DMM_INTERPOSE ssize_t readv(int fd, const iovec* iov, int iovcnt) {
  if (UserFd u = user_fd(fd)) return user_receive(u, fd, iov, iovcnt, 0, nullptr, nullptr);
  return ended(real().readv(fd, iov, iovcnt), fd);
}

DMM_INTERPOSE ssize_t recv(int fd, void* buffer, size_t size, int flags) {
  if (UserFd u = user_fd(fd)) {
    const iovec iov{buffer, size};
    return user_receive(u, fd, &iov, 1, flags, nullptr, nullptr);
  }
  return ended(real().recv(fd, buffer, size, flags), fd);
}

DMM_INTERPOSE ssize_t __recv_chk(int fd, void* buffer, size_t size, size_t buffer_size, int flags) {
  if (UserFd u = user_fd(fd)) {
    const iovec iov{buffer, std::min(size, buffer_size)};
    return user_receive(u, fd, &iov, 1, flags, nullptr, nullptr);
  }
  return ended(real().recv_chk(fd, buffer, size, buffer_size, flags), fd);
}

DMM_INTERPOSE ssize_t recvfrom(int fd, void* buffer, size_t size, int flags, sockaddr* from, socklen_t* length) {
  if (UserFd u = user_fd(fd)) {
    const iovec iov{buffer, size};
    return user_receive(u, fd, &iov, 1, flags, from, length);
  }
  return ended(real().recvfrom(fd, buffer, size, flags, from, length), fd);
}

DMM_INTERPOSE ssize_t __recvfrom_chk(int fd, void* buffer, size_t size, size_t buffer_size, int flags, sockaddr* from,
                                     socklen_t* length) {
  if (UserFd u = user_fd(fd)) {
    const iovec iov{buffer, std::min(size, buffer_size)};
    return user_receive(u, fd, &iov, 1, flags, from, length);
  }
  return ended(real().recvfrom_chk(fd, buffer, size, buffer_size, flags, from, length), fd);
}

DMM_INTERPOSE ssize_t recvmsg(int fd, msghdr* message, int flags) {
  if (UserFd u = user_fd(fd)) {
    if (!message) return fail(EFAULT);
    socklen_t length = message->msg_namelen;
    const ssize_t n = user_receive(u, fd, message->msg_iov, static_cast<int>(message->msg_iovlen), flags,
                                   static_cast<sockaddr*>(message->msg_name), message->msg_name ? &length : nullptr);
    if (n >= 0) {
      if (message->msg_name) message->msg_namelen = length;
      message->msg_controllen = 0;  // no ancillary data from a user-space stack
      message->msg_flags = 0;
    }
    return n;
  }
  const ssize_t n = ended(real().recvmsg(fd, message, flags), fd);
  if (n >= 0 && message && message->msg_controllen > 0 && active_shim() && !inside_shim()) {
    const int saved_errno = errno;
    note_received_fds(message);
    errno = saved_errno;
  }
  return n;
}

DMM_INTERPOSE int recvmmsg(int fd, mmsghdr* messages, unsigned int count, int flags, timespec* timeout) {
  if (UserFd u = user_fd(fd)) {
    // One message per call is what a byte stream gives; for UDP, later datagrams wait for the next call.
    if (!messages || count == 0) return static_cast<int>(fail(EINVAL));
    const ssize_t n = recvmsg(fd, &messages[0].msg_hdr, flags & ~MSG_WAITFORONE);
    if (n < 0) return -1;
    messages[0].msg_len = static_cast<unsigned int>(n);
    return 1;
  }
  const int n = real().recvmmsg(fd, messages, count, flags, timeout);
  if (n > 0 && messages && active_shim() && !inside_shim()) {
    const int saved_errno = errno;
    for (int i = 0; i < n; ++i)
      if (messages[i].msg_hdr.msg_controllen > 0) note_received_fds(&messages[i].msg_hdr);
    errno = saved_errno;
  }
  return n;
}

DMM_INTERPOSE ssize_t write(int fd, const void* buffer, size_t size) {
  if (UserFd u = user_fd(fd)) {
    const iovec iov{const_cast<void*>(buffer), size};
    return user_send(u, fd, &iov, 1, 0);
  }
  return real().write(fd, buffer, size);
}

DMM_INTERPOSE ssize_t writev(int fd, const iovec* iov, int iovcnt) {
  if (UserFd u = user_fd(fd)) return user_send(u, fd, iov, iovcnt, 0);
  return real().writev(fd, iov, iovcnt);
}

DMM_INTERPOSE ssize_t send(int fd, const void* buffer, size_t size, int flags) {
  if (UserFd u = user_fd(fd)) {
    const iovec iov{const_cast<void*>(buffer), size};
    return user_send(u, fd, &iov, 1, flags);
  }
  return real().send(fd, buffer, size, flags);
}

namespace {

// sendfile on a user-space session: read from the file, send through the session (one copy more than the
// kernel's). What was read but not sent (EAGAIN, a short write, an error) is given back to the file position.
ssize_t user_sendfile(const UserFd& u, int out_fd, int in_fd, off64_t* offset, size_t count) {
  std::vector<char> buffer(std::min<size_t>(count, 256 * 1024));
  const ssize_t got = offset ? ::pread64(in_fd, buffer.data(), buffer.size(), *offset)
                             : real().read(in_fd, buffer.data(), buffer.size());
  if (got <= 0) return got;
  const iovec iov{buffer.data(), static_cast<size_t>(got)};
  const ssize_t sent = user_send(u, out_fd, &iov, 1, 0);
  const int saved_errno = errno;
  const ssize_t kept = std::max<ssize_t>(sent, 0);
  if (offset)
    *offset += kept;
  else if (kept < got)
    ::lseek64(in_fd, kept - got, SEEK_CUR);
  errno = saved_errno;
  return sent;
}

}  // namespace

DMM_INTERPOSE ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  UserFd u = user_fd(out_fd);
  if (!u) return real().sendfile(out_fd, in_fd, offset, count);
  off64_t at = offset ? *offset : 0;
  const ssize_t n = user_sendfile(u, out_fd, in_fd, offset ? &at : nullptr, count);
  if (offset) *offset = static_cast<off_t>(at);
  return n;
}

// Programs built with _FILE_OFFSET_BITS=64 (nginx, for one) call this name.
DMM_INTERPOSE ssize_t sendfile64(int out_fd, int in_fd, off64_t* offset, size_t count) {
  UserFd u = user_fd(out_fd);
  if (!u) return real().sendfile64(out_fd, in_fd, offset, count);
  return user_sendfile(u, out_fd, in_fd, offset, count);
}

DMM_INTERPOSE int shutdown(int fd, int how) __THROW {
  if (UserFd u = user_fd(fd)) {
    if (u.foreign) return static_cast<int>(fail(foreign_user_fd_error()));
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return static_cast<int>(fail(EINVAL));
    return u.session->shutdown(how);
  }
  return real().shutdown(fd, how);
}

DMM_INTERPOSE int getsockname(int fd, sockaddr* address, socklen_t* length) __THROW {
  if (UserFd u = user_fd(fd)) {
    if (u.foreign) return static_cast<int>(fail(foreign_user_fd_error()));
    if (!address || !length) return static_cast<int>(fail(EFAULT));
    put_endpoint(u.session->local(), address, length);
    return 0;
  }
  if (FdSlot* slot = service_slot(fd)) return service_getname(fd, *slot, false, address, length);
  return real().getsockname(fd, address, length);
}

DMM_INTERPOSE int getpeername(int fd, sockaddr* address, socklen_t* length) __THROW {
  if (UserFd u = user_fd(fd)) {
    if (u.foreign) return static_cast<int>(fail(foreign_user_fd_error()));
    if (!address || !length) return static_cast<int>(fail(EFAULT));
    if (!u.session->connected()) return static_cast<int>(fail(ENOTCONN));
    put_endpoint(u.session->peer(), address, length);
    return 0;
  }
  if (FdSlot* slot = service_slot(fd)) return service_getname(fd, *slot, true, address, length);
  return real().getpeername(fd, address, length);
}

DMM_INTERPOSE int ioctl(int fd, unsigned long request, ...) __THROW {
  va_list ap;
  va_start(ap, request);
  void* argument = va_arg(ap, void*);
  va_end(ap);
  if (request == FIONREAD) {
    if (UserFd u = user_fd(fd)) {
      if (u.foreign) return static_cast<int>(fail(foreign_user_fd_error()));
      if (!argument) return static_cast<int>(fail(EFAULT));
      *static_cast<int*>(argument) = static_cast<int>(u.session->readable_bytes());
      return 0;
    }
  }
  // FIONBIO and the rest act on the application end itself (its O_NONBLOCK is the session's), or are the
  // kernel's.
  return real().ioctl(fd, request, argument);
}
