#pragma once
// One connection to dmm-stackd (internal to the daemon): who it is, as the kernel recorded it at connect, and where
// it is in the conversation.
#include <string>

#include "dmm/kernel/unique_fd.hpp"
#include "dmm/service/stack_service_daemon.hpp"

namespace dmm::service {

struct StackServiceDaemon::Peer {
  PeerId id = 0;
  kernel::UniqueFd fd;
  PeerIdentity identity;
  std::string who;            // identity.describe(), and the client's name once it said hello
  bool welcomed = false;      // said hello and got welcome
  std::uint8_t version = 0;   // negotiated protocol version
  TimerId hello_timer = 0;
  std::uint64_t requests = 0;
};

}  // namespace dmm::service
