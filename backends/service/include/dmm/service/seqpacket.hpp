#pragma once
// One message per SOCK_SEQPACKET datagram, with file descriptors as SCM_RIGHTS: the only socket I/O of the service's
// daemon and client. Plain sendmsg/recvmsg: the preload shim calls the client inside its re-entry guard, where its
// own interposers pass straight to libc.
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"

namespace dmm::service {

// Sends `bytes` as one datagram with `fds` attached (none: no ancillary data). `flags` are or'ed to MSG_NOSIGNAL
// (a peer that is gone is EPIPE, never SIGPIPE in the caller's process). The errno of sendmsg on failure.
Status send_message(int fd, std::string_view bytes, std::span<const int> fds, int flags);

struct Received {
  std::string bytes;                    // at most the `max_bytes` asked for
  std::vector<kernel::UniqueFd> fds;    // SCM_RIGHTS descriptors that arrived (close-on-exec)
  bool closed = false;                  // end of stream: the peer closed (or sent an empty datagram)
  bool truncated = false;               // the datagram was longer than `max_bytes` (its tail is gone)
  bool fds_truncated = false;           // descriptors were sent that did not fit (more than `max_fds`, or this
                                        // process's fd limit): the kernel dropped them
};

// Receives one datagram of at most `max_bytes` (one more byte is asked for, so that a longer one is seen as
// truncated even where MSG_TRUNC would not say) and up to `max_fds` descriptors, made close-on-exec as they arrive
// (MSG_CMSG_CLOEXEC). `flags` are or'ed in (MSG_DONTWAIT). The errno of recvmsg on failure (EAGAIN: nothing yet).
Result<Received> receive_message(int fd, std::size_t max_bytes, std::size_t max_fds, int flags);

}  // namespace dmm::service
