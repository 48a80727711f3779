#pragma once
// Putting another socket behind a program's fd number (the decision replaces a placeholder by a socket of the
// chosen stack, or by a user-space session's fd). The program keeps its fd number and must keep everything it
// attached to that fd (DESIGN.md §2.4): file status flags, FD_CLOEXEC, the owner and signal of O_ASYNC/SIGURG,
// epoll registrations — and every dup'ed copy of a pending placeholder follows it.
#include <string>

#include "fd_table.hpp"

namespace dmm::preload {

// Per-file state of the socket now behind `fd` that a new socket does not inherit.
struct FileState {
  int status_flags = 0;  // F_GETFL: O_NONBLOCK, O_ASYNC, ...
  int fd_flags = 0;      // F_GETFD: FD_CLOEXEC
};

// Reads `fd`'s FileState. 0, or an errno with `why`.
int read_file_state(int fd, FileState& state, std::string& why);

// Makes `fresh` the socket behind `fd` (the caller holds fd's slot lock; `rec` is its record, `state` what
// read_file_state said of it): status flags and the O_ASYNC/SIGURG owner and signal copied onto `fresh`, fd's
// epoll registrations taken off the current socket, `fresh` dup3'ed onto `fd` with fd's FD_CLOEXEC, the
// registrations added again for it. `fresh` stays open (aliases still need it; the caller closes it). 0, or an
// errno with `why` — then `fd` still names the socket it named, with its registrations. `epoll_refused`: how many
// registrations the kernel would not add for the new socket.
int swap_socket(int fd, FdRecord& rec, int fresh, const FileState& state, std::string& why, int& epoll_refused);

// The other fds that share `fd`'s pending placeholder (dup'ed before the decision; identified by
// `old_identity`) follow it to `fresh`: each keeps its own FD_CLOEXEC and epoll registrations, and takes
// `placed`'s identity, stack and session, ending in state `state`. Try-locks only: this thread holds `fd`'s lock,
// and an alias being decided by another thread at the same moment (the program racing itself) must not deadlock
// us; it is skipped instead.
void move_aliases(int fd, dev_t old_dev, ino_t old_ino, int fresh, const FdRecord& placed, FdState state);

}  // namespace dmm::preload
