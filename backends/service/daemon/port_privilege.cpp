#include "port_privilege.hpp"

#include <fstream>
#include <string>

namespace dmm::service {
namespace {

constexpr int kCapNetBindService = 10;

int unprivileged_port_start() {
  std::ifstream in("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  int start = 1024;
  if (!(in >> start)) return 1024;
  return start;
}

bool has_bind_service(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    try {
      return (std::stoull(line.substr(7), nullptr, 16) >> kCapNetBindService) & 1u;
    } catch (...) {
      return false;
    }
  }
  return false;  // gone, or unreadable: not granted
}

}  // namespace

Status admit_port(uid_t uid, bool can_bind_service, std::uint16_t port, int unprivileged_start) {
  if (port == 0 || port >= unprivileged_start || uid == 0 || can_bind_service) return {};
  return make_error(EACCES, "not_allowed: port " + std::to_string(port) + " is privileged (below "
                            "ip_unprivileged_port_start " + std::to_string(unprivileged_start) + ") and uid " +
                            std::to_string(uid) + " has not got CAP_NET_BIND_SERVICE");
}

Status admit_port(const PeerIdentity& peer, std::uint16_t port) {
  const int start = unprivileged_port_start();
  if (port == 0 || port >= start || peer.uid == 0) return {};
  return admit_port(peer.uid, has_bind_service(peer.pid), port, start);
}

}  // namespace dmm::service
