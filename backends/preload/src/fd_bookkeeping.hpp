#pragma once
// Keeping the fd table in step with the program's fds. Allocation-free and lock-ordered: these run inside
// socket(), accept(), close() and dup*(), all async-signal-safe in POSIX, and in children between fork and exec.
#include <sys/socket.h>

#include "fd_record.hpp"

namespace dmm::preload {

// A socket the program just made: pending if DMM decides for it (IPv4/IPv6 TCP or UDP), else forgotten.
// `placeholder_stack`: the stack it was made on (kNoStack: the program's own namespace). `known`: its identity
// when the caller has it already (a pooled socket); otherwise it is taken when first needed (record_ops.hpp).
struct KnownIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
};
void note_new_socket(int fd, int domain, int type, int protocol, int placeholder_stack = kNoStack,
                     const KnownIdentity* known = nullptr);

// `fd` was closed or is about to be replaced: forget its record. Takes the slot lock, so a decision running for
// `fd` on another thread finishes (its dup3 lands) before the number can be reused.
void forget_fd(int fd);

// recvmsg() delivered `message`: fds that arrived by SCM_RIGHTS are new to this process, whatever a record of
// their numbers says (the earlier fd there was closed by a path the shim does not see).
void note_received_fds(const msghdr* message);

// bind() succeeded on `fd`: if it is pending, its address must follow it to a new socket.
void note_bound(int fd);

// `accepted` came from listener `listener`: it is carried by the listener's stack.
void note_accepted(int listener, int accepted);

// dup(), fcntl(F_DUPFD*): runs `dup_call` (which returns the new fd) with `from` locked, then gives the new fd
// `from`'s record. A pending placeholder then has two fds; the decision moves both.
template <typename DupCall>
int dup_with_record(int from, DupCall&& dup_call);

// dup2()/dup3(): `to` is replaced by `from`. Both slots locked (in fd order) around `dup_call`.
template <typename DupCall>
int dup_onto_with_record(int from, int to, DupCall&& dup_call);

}  // namespace dmm::preload

#include "fd_bookkeeping_impl.hpp"
