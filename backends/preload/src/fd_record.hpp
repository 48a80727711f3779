#pragma once
// What the shim remembers about one application fd. Plain data, fixed size: records live in the fd table and are
// written from paths (socket, setsockopt, close, dup) that must not allocate.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>

#include "dmm/address.hpp"

namespace dmm::preload {

enum class FdState : std::uint8_t {
  untracked,  // not a socket the shim manages (or closed): every call passes through
  pending,    // a placeholder socket in the program's own namespace; the stack is not chosen yet
  placed,     // the stack is chosen; the fd is that stack's kernel socket and the shim stays out of the way
  user,       // carried by a user-space stack: the fd is a UserSession's application end; data calls are the shim's
  // Carried by a user-space instance that dmm-stackd runs: the fd is the program's end of a session the daemon
  // pumps (a real AF_UNIX socket), so the data path is the kernel's, in this process, its children and after exec.
  // Only what an AF_UNIX socket would answer differently is the shim's: addresses, TCP/IP options, SO_ERROR,
  // connect() again, a UDP peer's address, a reset read as ECONNRESET (service_fd.hpp).
  service,
};

inline constexpr int kNoStack = -1;
inline constexpr std::size_t kMaxRecordedOptions = 16;
inline constexpr std::size_t kMaxOptionBytes = 40;  // linger, timeval, ip_mreqn, ipv6_mreq, TCP_CONGESTION name
inline constexpr std::size_t kMaxEpollRegistrations = 8;

// One epoll set the program added this fd to while it was pending (epoll_ctl ADD/MOD), with the interest and the
// data word the program gave: the socket that replaces the placeholder is registered there the same way
// (epoll_interest.hpp). The kernel keys a registration by (file, fd number), so a new socket under the same
// number is not in any set until it is added.
struct EpollRegistration {
  int epfd = -1;
  std::uint32_t events = 0;
  std::uint64_t data = 0;
  pid_t recorded_by = 0;  // a fork parent's registration is in a set it shares with us: never taken out of it
};

struct RecordedOption {
  int level = 0;
  int name = 0;
  socklen_t length = 0;
  unsigned char value[kMaxOptionBytes];
};

struct FdRecord {
  FdState state = FdState::untracked;
  // Identity of the socket this record describes (st_dev, st_ino of the socket inode). Functions that close or
  // replace fds behind the shim's back (glibc-internal closes, close_range, fds passed over SCM_RIGHTS) can make a
  // record stale; a decision first checks that the fd still is this socket.
  dev_t dev = 0;
  ino_t ino = 0;
  int domain = 0;
  int type = 0;      // SOCK_STREAM or SOCK_DGRAM, without SOCK_NONBLOCK/SOCK_CLOEXEC
  int protocol = 0;
  std::uint8_t intent = 0;     // dmm::Intent
  int stack = kNoStack;        // index into the orchestrator's stack table once placed
  bool original = true;        // still the placeholder socket() made (so its stack can keep it as it is)
  // Where that placeholder lives: kNoStack = the program's own namespace; otherwise the stack socket() predicted
  // (Shim::predicted_stack) and made it on, so that a decision for that same stack has nothing left to do.
  int placeholder_stack = kNoStack;
  std::uint64_t session = 0;   // FdState::user: the UserSessions id; FdState::service: dmm-stackd's session id
  // FdState::service: the session's peer and (once dmm-stackd said) local address; its outcome once known.
  Endpoint peer;
  Endpoint local;
  bool local_known = false;
  bool settled = false;        // established or failed, as the daemon said
  int session_errno = 0;       // the failure, until SO_ERROR or a second connect() reports it
  bool error_reported = false;
  bool service_listener = false;  // FdState::service: a listener of the instance (its connections are accepted)
  bool end_checked = false;       // FdState::service: a read met the end once, and the daemon was asked why
  bool aliased = false;        // dup'ed while pending: other fds share this placeholder
  bool made_nonblocking = false;  // socket() was asked for SOCK_NONBLOCK (the pool kind its next ones come from)
  bool bound = false;          // bind() succeeded on the placeholder: its address is replayed on a new socket
  // Non-zero while a connect of this placed socket is being raced (connect_race.hpp): the winner may yet replace
  // it, so epoll registrations and options are recorded as for a pending socket; the race's serial, so that a race
  // acts only on the record it started with (a dup clears it: that ends the race).
  std::uint32_t race_serial = 0;
  bool options_overflow = false;  // more distinct options than fit: the extra ones are not replayed
  std::uint8_t option_count = 0;
  // Registered in more epoll sets than fit: the extra ones do not follow the socket (`epoll_dropped` in the log).
  bool epoll_overflow = false;
  std::uint8_t epoll_count = 0;
  RecordedOption options[kMaxRecordedOptions];
  EpollRegistration epoll[kMaxEpollRegistrations];
};

}  // namespace dmm::preload
