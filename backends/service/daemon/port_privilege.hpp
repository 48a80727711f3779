#pragma once
// A port below the host's ip_unprivileged_port_start (1024 by default) on a user-space instance needs what it needs
// on a kernel socket: root or CAP_NET_BIND_SERVICE. The daemon binds and listens for its peers there (the kernel
// checks nobody's privilege on an lwIP port), so it checks the peer's, as bind(2) would.
#include <sys/types.h>

#include <cstdint>

#include "dmm/result.hpp"
#include "dmm/service/peer_identity.hpp"

namespace dmm::service {

// Pure: OK, or EACCES naming the port, the limit and what is missing.
Status admit_port(uid_t uid, bool can_bind_service, std::uint16_t port, int unprivileged_start);

// The same for a peer: its effective capabilities from /proc/PID/status (as it is now: a process that dropped them
// after connecting has not got them), the limit from this namespace's /proc/sys/net/ipv4/ip_unprivileged_port_start.
Status admit_port(const PeerIdentity& peer, std::uint16_t port);

}  // namespace dmm::service
