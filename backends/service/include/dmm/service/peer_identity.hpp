#pragma once
// Who is at the other end of a Unix-domain connection, as the kernel recorded it when the peer connected: pid, uid,
// gid (SO_PEERCRED: the effective ids) and the supplementary groups (SO_PEERGROUPS). Read once, at accept, in one
// place: a process cannot change what the kernel recorded, and the groups are those the process itself holds
// (after its setgroups/initgroups), not the account's list in /etc/group, which a process that dropped them no
// longer has. No account database lookup at request time either (it may block on a directory service).
#include <sys/types.h>

#include <string>
#include <vector>

#include "dmm/result.hpp"

namespace dmm::service {

struct PeerIdentity {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups at connect time (may include gid)

  bool in_group(gid_t g) const;  // gid or a supplementary group
  // "pid=12 uid=65534 gid=65534 groups=65534,33" for logs and messages.
  std::string describe() const;
};

// SO_PEERCRED and SO_PEERGROUPS of a connected Unix-domain socket.
Result<PeerIdentity> peer_identity(int fd);

}  // namespace dmm::service
