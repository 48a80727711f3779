// dup, dup2, dup3, fcntl(F_DUPFD*): a copy of a DMM socket is a DMM socket (same stack, same pending
// placeholder). Every other fcntl command passes through: O_NONBLOCK and FD_CLOEXEC are read back from the kernel
// when a socket is re-created, so they need no shadow here (and ioctl(FIONBIO) needs no interposer at all).
#include <fcntl.h>
#include <unistd.h>

#include <cstdarg>

#include "export.hpp"
#include "fd_bookkeeping.hpp"
#include "real_calls.hpp"
#include "shim_guard.hpp"
#include "shim_state.hpp"

using namespace dmm::preload;

namespace {

bool bookkeeping_off() { return inside_shim() || !active_shim(); }

void forget_log_fd(int fd) {
  if (Shim* shim = active_shim()) shim->log().forget_fd(fd);
}

// fcntl's third argument is an int, a long or a pointer depending on the command; glibc itself reads it as a
// pointer-sized value and hands it on, which preserves every case on the ABIs Linux supports.
int fcntl_common(int (*real_fcntl)(int, int, ...), int fd, int command, void* argument) {
  if ((command != F_DUPFD && command != F_DUPFD_CLOEXEC) || bookkeeping_off())
    return real_fcntl(fd, command, argument);
  return dup_with_record(fd, [&] { return real_fcntl(fd, command, argument); });
}

}  // namespace

DMM_INTERPOSE int dup(int fd) __THROW {
  if (bookkeeping_off()) return real().dup(fd);
  return dup_with_record(fd, [&] { return real().dup(fd); });
}

DMM_INTERPOSE int dup2(int from, int to) __THROW {
  forget_log_fd(to);
  if (bookkeeping_off()) return real().dup2(from, to);
  return dup_onto_with_record(from, to, [&] { return real().dup2(from, to); });
}

DMM_INTERPOSE int dup3(int from, int to, int flags) __THROW {
  forget_log_fd(to);
  if (bookkeeping_off()) return real().dup3(from, to, flags);
  return dup_onto_with_record(from, to, [&] { return real().dup3(from, to, flags); });
}

DMM_INTERPOSE int fcntl(int fd, int command, ...) {
  va_list ap;
  va_start(ap, command);
  void* argument = va_arg(ap, void*);
  va_end(ap);
  return fcntl_common(real().fcntl, fd, command, argument);
}

DMM_INTERPOSE int fcntl64(int fd, int command, ...) {
  va_list ap;
  va_start(ap, command);
  void* argument = va_arg(ap, void*);
  va_end(ap);
  return fcntl_common(real().fcntl64, fd, command, argument);
}
