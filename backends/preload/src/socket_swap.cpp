#include "socket_swap.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "epoll_interest.hpp"
#include "real_calls.hpp"

namespace dmm::preload {
namespace {

// The status flags F_SETFL can change on a socket (O_APPEND, O_DIRECT, O_NOATIME mean nothing there). The
// caller usually made the new socket with SOCK_NONBLOCK already; O_ASYNC needs copying.
constexpr int kCopiedStatusFlags = O_ASYNC | O_NONBLOCK;

// The owner that gets SIGIO (O_ASYNC) and SIGURG (urgent data), and the signal F_SETSIG chose: per open file,
// so the new socket starts with none. Both are read back from the kernel rather than shadowed: F_SETOWN,
// F_SETOWN_EX, F_SETSIG, ioctl(FIOSETOWN/SIOCSPGRP) all set them.
void copy_owner(int from, int to) {
  f_owner_ex owner{};
  if (real().fcntl(from, F_GETOWN_EX, &owner) == 0 && owner.pid != 0) real().fcntl(to, F_SETOWN_EX, &owner);
  const int signal = real().fcntl(from, F_GETSIG);
  if (signal > 0) real().fcntl(to, F_SETSIG, signal);
}

int fail(std::string& why, const char* what) {
  const int err = errno;
  why = std::string(what) + ": " + std::strerror(err);
  return err;
}

}  // namespace

int read_file_state(int fd, FileState& state, std::string& why) {
  state.status_flags = real().fcntl(fd, F_GETFL);
  if (state.status_flags < 0) return fail(why, "fcntl");
  state.fd_flags = real().fcntl(fd, F_GETFD);
  if (state.fd_flags < 0) return fail(why, "fcntl");
  return 0;
}

int swap_socket(int fd, FdRecord& rec, int fresh, const FileState& state, std::string& why, int& epoll_refused) {
  const int wanted = state.status_flags & kCopiedStatusFlags;
  const int has = real().fcntl(fresh, F_GETFL);
  copy_owner(fd, fresh);  // before O_ASYNC, so that no signal can go to nobody
  if (has >= 0 && (has & kCopiedStatusFlags) != wanted) real().fcntl(fresh, F_SETFL, (has & ~kCopiedStatusFlags) | wanted);
  detach_epoll_interest(fd, rec);
  if (real().dup3(fresh, fd, (state.fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
    const int err = fail(why, "dup3");
    restore_epoll_interest(fd, rec);
    errno = err;
    return err;
  }
  epoll_refused = restore_epoll_interest(fd, rec);
  return 0;
}

void move_aliases(int fd, dev_t old_dev, ino_t old_ino, int fresh, const FdRecord& placed, FdState state) {
  if (old_dev == 0 && old_ino == 0) return;  // no identity to match aliases by (marking an alias takes it)
  fd_table().for_each([&](int alias, FdSlot& slot) {
    if (alias == fd || slot.state.load(std::memory_order_relaxed) != FdState::pending) return;
    SlotLock lock(slot, SlotLock::TryOnly{});
    if (!lock.held() || slot.state.load(std::memory_order_relaxed) != FdState::pending) return;
    FdRecord& rec = slot.record;
    if (rec.dev != old_dev || rec.ino != old_ino) return;
    const int fd_flags = real().fcntl(alias, F_GETFD);
    if (fd_flags < 0) return;
    detach_epoll_interest(alias, rec);
    if (real().dup3(fresh, alias, (fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
      restore_epoll_interest(alias, rec);
      return;
    }
    restore_epoll_interest(alias, rec);
    rec.dev = placed.dev;
    rec.ino = placed.ino;
    rec.stack = placed.stack;
    rec.original = placed.original;
    rec.placeholder_stack = placed.placeholder_stack;
    rec.session = placed.session;
    slot.state.store(state, std::memory_order_release);
  });
}

}  // namespace dmm::preload
