#pragma once
// dmm-stackd's listening socket: a Unix-domain SOCK_SEQPACKET socket file with a chosen mode, which never steals a
// live daemon's path and never leaves a dead one's in the way.
#include <sys/types.h>

#include <string>

#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"

namespace dmm::service {

struct SeqpacketListener {
  kernel::UniqueFd fd;  // listening, non-blocking, close-on-exec
  dev_t device = 0;     // of the socket file made: removed at the end only if it is still this one
  ino_t inode = 0;
};

// Listens at `path` with permission bits `mode` (umask does not apply; the file never exists with wider ones).
// A socket file nobody answers on (left by a daemon that died) is replaced; EADDRINUSE if a daemon still answers
// there; EEXIST if `path` is something other than a socket. bind's errno otherwise (ENOENT: no such directory).
Result<SeqpacketListener> listen_seqpacket(const std::string& path, mode_t mode, int backlog = 128);

// Removes `path` if it is still the file `listener` made (a successor may have replaced it).
void remove_socket_file(const std::string& path, const SeqpacketListener& listener);

}  // namespace dmm::service
