#pragma once
// Finding the user-space session behind an application fd, on the data path of every read and write: one fd-table
// load decides for kernel sockets and other fds (they pass straight through).
#include <memory>

#include "user_session.hpp"

namespace dmm::preload {

struct UserFd {
  std::shared_ptr<UserSession> session;  // held for the duration of the call
  bool foreign = false;  // a copy inherited by a forked child: the session (and its stack) live in the parent
  explicit operator bool() const { return session || foreign; }
};

// The session if `fd` is the application end of one (checked against the socket's identity), else empty.
UserFd user_fd(int fd);

// The error a forked child gets for an inherited user-space socket (EIO), with one warning per process.
int foreign_user_fd_error();

}  // namespace dmm::preload
