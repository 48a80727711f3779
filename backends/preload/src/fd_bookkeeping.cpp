#include "fd_bookkeeping.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include "record_ops.hpp"

#include <cstring>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

namespace dmm::preload {
namespace {

constexpr int kTypeFlags = SOCK_NONBLOCK | SOCK_CLOEXEC;

// What DMM decides for: TCP (and MPTCP the program asked for itself) and UDP over IPv4/IPv6. Raw, SCTP,
// UDP-Lite, AF_UNIX, netlink, ... are none of its business.
bool decides_for(int domain, int type, int protocol) {
  if (domain != AF_INET && domain != AF_INET6) return false;
  if (type == SOCK_STREAM) return protocol == 0 || protocol == IPPROTO_TCP || protocol == IPPROTO_MPTCP;
  if (type == SOCK_DGRAM) return protocol == 0 || protocol == IPPROTO_UDP;
  return false;
}

}  // namespace

void copy_record(FdSlot& to, FdState state, const FdRecord& record) {
  if (state != FdState::untracked) {
    to.record = record;
    // Epoll registrations belong to an fd number: the copy under a new number is in no set yet.
    to.record.epoll_count = 0;
    to.record.epoll_overflow = false;
    to.record.race_serial = 0;
  }
  to.state.store(state, std::memory_order_release);
}

void mark_aliased(int fd, FdSlot& slot) {
  // Aliases are found by identity when the decision moves the placeholder (socket_swap.hpp): it must be known.
  // A record that does not describe what `fd` is (closed and reused behind our back) is forgotten instead.
  if (!still_same_socket(fd, slot.record, /*undecided=*/true)) {
    slot.state.store(FdState::untracked, std::memory_order_release);
    return;
  }
  slot.record.aliased = true;
}

void forget_fd(int fd) {
  FdSlot* slot = fd_table().find(fd);
  if (!slot) return;
  const FdState state = slot->state.load(std::memory_order_acquire);
  if (state == FdState::untracked) return;
  // A vfork child shares the parent's table: forgetting a pending or user-space record there would take the
  // parent's socket out of DMM's hands. A placed record only names its stack (DMM_STACK, nRD samples): not worth
  // a getpid() on every close of a connection.
  if (state != FdState::placed && in_foreign_child()) return;
  SlotLock lock(*slot);
  // Re-entered from a signal handler on the thread that is deciding for this very fd: leave the record; the
  // identity check catches the stale record before any later decision uses it.
  if (!lock.reentered()) slot->state.store(FdState::untracked, std::memory_order_release);
}

void note_new_socket(int fd, int domain, int type, int protocol, int placeholder_stack, const KnownIdentity* known) {
  Shim* shim = active_shim();
  const int base_type = type & ~kTypeFlags;
  if (!shim || !decides_for(domain, base_type, protocol)) {
    forget_fd(fd);
    return;
  }
  FdSlot* slot = fd_table().find_or_create(fd);
  if (!slot) return;  // beyond the table, or no memory: the socket stays where it is, as without DMM
  SlotLock lock(*slot);
  if (lock.reentered()) return;
  FdRecord& rec = slot->record;
  start_pending(rec, domain, base_type, protocol, static_cast<int>(shim->default_intent()));
  rec.placeholder_stack = placeholder_stack;
  rec.made_nonblocking = (type & SOCK_NONBLOCK) != 0;
  if (known) {
    rec.dev = known->dev;
    rec.ino = known->ino;
  }
  slot->state.store(FdState::pending, std::memory_order_release);
}

void note_received_fds(const msghdr* message) {
  if (!message || !message->msg_control || message->msg_controllen < sizeof(cmsghdr)) return;
  for (const cmsghdr* c = CMSG_FIRSTHDR(message); c; c = CMSG_NXTHDR(const_cast<msghdr*>(message), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* data = CMSG_DATA(c);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, data + i * sizeof fd, sizeof fd);
      forget_fd(fd);
    }
  }
}

void note_bound(int fd) {
  FdSlot* slot = fd_table().find(fd);
  if (!slot || slot->state.load(std::memory_order_acquire) != FdState::pending) return;
  SlotLock lock(*slot);
  if (!lock.reentered() && slot->state.load(std::memory_order_relaxed) == FdState::pending) slot->record.bound = true;
}

void note_accepted(int listener, int accepted) {
  FdSlot* from = fd_table().find(listener);
  if (!from || from->state.load(std::memory_order_acquire) != FdState::placed) {
    forget_fd(accepted);
    return;
  }
  int stack = kNoStack;
  int domain = AF_INET;
  {
    SlotLock lock(*from);
    if (lock.reentered() || from->state.load(std::memory_order_relaxed) != FdState::placed) return forget_fd(accepted);
    stack = from->record.stack;
    domain = from->record.domain;
  }
  FdSlot* slot = fd_table().find_or_create(accepted);
  if (!slot) return;
  SlotLock lock(*slot);
  if (lock.reentered()) return;
  FdRecord& rec = slot->record;
  start_pending(rec, domain, SOCK_STREAM, 0, 0);
  rec.stack = stack;
  rec.original = false;
  slot->state.store(FdState::placed, std::memory_order_release);  // identity taken if ever needed
}

}  // namespace dmm::preload
