#pragma once
// The few socket calls nRD's processes make: a non-blocking connect to an NrdAddress, a listening socket on one
// (a Unix socket file with a chosen mode, refusing to steal a live daemon's path), and the peer's credentials.
#include <sys/types.h>

#include "dmm/kernel/unique_fd.hpp"
#include "dmm/nrd/nrd_address.hpp"
#include "dmm/result.hpp"

namespace dmm::nrd {

struct PendingConnect {
  kernel::UniqueFd fd;        // non-blocking, close-on-exec
  bool in_progress = false;   // connect returned EINPROGRESS: wait for writability, then check SO_ERROR
};

// Immediate failures are connect(2)'s own (ENOENT: no socket file, ECONNREFUSED: nobody listens, ENETUNREACH).
Result<PendingConnect> start_connect(const NrdAddress& address);

// A listening, non-blocking socket. Unix: the file is created with `mode` (its permission bits; umask does not
// apply), replacing a stale file of a daemon that died, but EADDRINUSE if a daemon still answers there. TCP:
// SO_REUSEADDR, bound to the endpoint (port 0: the kernel picks; see bound_endpoint).
Result<kernel::UniqueFd> listen_on(const NrdAddress& address, mode_t mode, int backlog = 128);
Result<Endpoint> bound_endpoint(int fd);

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};
// SO_PEERCRED of a connected Unix-domain socket: what the kernel recorded when the peer connected.
Result<PeerCredentials> peer_credentials(int fd);

// The error pending on a socket (SO_ERROR), 0 if none.
int pending_error(int fd);

}  // namespace dmm::nrd
