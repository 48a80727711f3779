#pragma once
// Operations on one FdRecord (the caller holds its slot lock). No allocation: these run inside socket() and
// setsockopt(), which POSIX lists as async-signal-safe.
#include <optional>

#include "fd_record.hpp"

namespace dmm::preload {

// A fresh pending record for a socket the program just created.
void start_pending(FdRecord& rec, int domain, int type, int protocol, int intent);

// The socket inode a record describes, for finding the other fds of the same placeholder.
struct SocketId {
  dev_t dev = 0;
  ino_t ino = 0;
};
inline SocketId identity_of(const FdRecord& rec) { return {rec.dev, rec.ino}; }

// Reads the socket identity of `fd` into rec. False if fstat fails.
bool take_identity(int fd, FdRecord& rec);
// Records start without an identity (it costs an fstat, and most are never checked: a socket kept where it was
// made, an accepted one); it is taken when first needed.
inline bool identity_known(const FdRecord& rec) { return rec.dev != 0 || rec.ino != 0; }

// fd still names the socket this record describes (not closed and reused behind the shim's back: glibc-internal
// closes, close_range, raw system calls). A record without an identity yet is checked for what it must be — a
// socket of its domain and type, and for an `undecided` one (about to be replaced) also not connected and unbound
// unless the program bound it — and takes its identity now.
bool still_same_socket(int fd, FdRecord& rec, bool undecided = false);

// Remembers a successful setsockopt for replay on a re-created socket. Setting the same option again replaces
// its value (so a record fills only with distinct options).
void record_option(FdRecord& rec, int level, int name, const void* value, socklen_t length);

// Sets the recorded options on `to` in the order the program set them (SO_REUSEADDR, IPV6_V6ONLY and friends
// must precede bind); a socket filter is copied from `from`, the socket it was set on. An option the new stack
// refuses is skipped: the program's call succeeded once already, and failing a later connect over it would be a
// surprise of our making. Returns how many were refused. Allocates only to copy a socket filter.
int replay_options(const FdRecord& rec, int from, int to);
// The recorded socket-level options (timeouts, buffers, keepalive; not a socket filter) on `to`, a dmm-stackd
// session's AF_UNIX end: the ones such an end takes as its own (service_fd.hpp answers the TCP/IP levels from the
// record). What it refuses is skipped, as above.
void replay_socket_level_options(const FdRecord& rec, int to);

// What a record says of a dmm-stackd session's end once it is behind the fd (FdState::service): the session, its
// peer (unspecified for a listener or an unconnected UDP socket), its local address when known, whether it is
// settled (established, failed or listening: the daemon said), no error pending.
struct ServiceEnd {
  std::uint64_t session = 0;
  Endpoint peer;
  std::optional<Endpoint> local;
  bool settled = false;
  bool listener = false;
};
void describe_service_end(FdRecord& rec, const ServiceEnd& end);

}  // namespace dmm::preload
