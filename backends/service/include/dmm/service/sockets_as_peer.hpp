#pragma once
// Sockets made for a peer *as the peer*: around socket(2) the calling thread takes the peer's file-system uid and
// gid (setfsuid/setfsgid, per-thread credentials). The kernel stamps a new socket's inode with the creator's fsuid
// and fsgid, and takes the socket's sk_uid — what uid-based routing (`ip rule uidrange`) and iptables' owner match
// see — from that inode, so the socket is the peer's exactly as if the peer had made it. Everything else of the
// daemon's credentials stays (CAP_SYS_ADMIN for setns; a non-zero fsuid drops only the file-system capabilities).
#include <sys/types.h>

#include <vector>

#include "dmm/kernel/instance_sockets.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"

namespace dmm::service {

// `count` sockets of (domain, type, protocol) from `instance` (its namespace, its MPTCP substitution), made with
// fsuid `uid` and fsgid `gid`, close-on-exec. All or nothing: on failure none is left open, and the error carries
// socket()'s errno (or EPERM when the thread may not take the ids: the daemon needs CAP_SETUID and CAP_SETGID).
// The calling thread's fsuid and fsgid are back to what they were when this returns.
Result<std::vector<kernel::UniqueFd>> make_sockets_as(const kernel::InstanceSockets& instance, uid_t uid, gid_t gid,
                                                      int domain, int type, int protocol, int count);

}  // namespace dmm::service
