#include "dmm/service/peer_identity.hpp"

#include <sys/socket.h>

#include <algorithm>

#include "dmm/kernel/sys_error.hpp"

namespace dmm::service {
namespace {

// NGROUPS_MAX is 65536 on Linux: the buffer grows on ERANGE (the kernel says how much it needs) up to that.
constexpr std::size_t kMaxGroups = 65536;

}  // namespace

bool PeerIdentity::in_group(gid_t g) const {
  return gid == g || std::find(groups.begin(), groups.end(), g) != groups.end();
}

std::string PeerIdentity::describe() const {
  std::string out = "pid=" + std::to_string(pid) + " uid=" + std::to_string(uid) + " gid=" + std::to_string(gid) +
                    " groups=";
  if (groups.empty()) out += "-";
  for (std::size_t i = 0; i < groups.size() && i < 16; ++i) {
    if (i) out += ',';
    out += std::to_string(groups[i]);
  }
  if (groups.size() > 16) out += ",...";
  return out;
}

Result<PeerIdentity> peer_identity(int fd) {
  PeerIdentity id;
  ucred cred{};
  socklen_t length = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return kernel::last_sys_error("SO_PEERCRED");
  id.pid = cred.pid;
  id.uid = cred.uid;
  id.gid = cred.gid;
  std::vector<gid_t> groups(32);
  for (;;) {
    socklen_t bytes = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes) == 0) {
      groups.resize(bytes / sizeof(gid_t));
      break;
    }
    if (errno != ERANGE || groups.size() >= kMaxGroups) return kernel::last_sys_error("SO_PEERGROUPS");
    groups.resize(std::min<std::size_t>(std::max<std::size_t>(bytes / sizeof(gid_t), groups.size() * 2), kMaxGroups));
  }
  id.groups = std::move(groups);
  return id;
}

}  // namespace dmm::service
