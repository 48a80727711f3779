#pragma once
// Who may get sockets of which instance through dmm-stackd (host config `allow:` of a kernel stack): root always;
// otherwise a peer whose uid is in allow.users, or whose gid or one of whose supplementary groups is in
// allow.groups; without `allow:`, nobody but root. Pure: the peer's identity comes from peer_identity().
#include <string>

#include "dmm/host/host_config.hpp"
#include "dmm/result.hpp"
#include "dmm/service/peer_identity.hpp"

namespace dmm::service {

// OK, or EACCES with a message naming the peer's uid, the stack and the config key (with its place in
// `config_file`) that would let it in.
Status admit(const PeerIdentity& peer, const host::StackSpec& stack, const std::string& config_file);

}  // namespace dmm::service
