#include "dmm/service/admission.hpp"

#include <algorithm>

namespace dmm::service {
namespace {

std::string place(const std::string& file, const host::Mark& mark) {
  return file + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
}

}  // namespace

Status admit(const PeerIdentity& peer, const host::StackSpec& stack, const std::string& config_file) {
  // Root can enter the namespace itself; refusing it would protect nothing.
  if (peer.uid == 0) return {};
  static const host::AllowSpec kNobody{};
  const host::AllowSpec& allow = stack.kernel      ? stack.kernel->allow
                                 : stack.lwip_dpdk ? stack.lwip_dpdk->allow
                                                   : kNobody;
  if (std::find(allow.users.begin(), allow.users.end(), peer.uid) != allow.users.end()) return {};
  if (std::any_of(allow.groups.begin(), allow.groups.end(), [&](gid_t g) { return peer.in_group(g); })) return {};
  const std::string who = "uid " + std::to_string(peer.uid) + " (gid " + std::to_string(peer.gid) + ")";
  const std::string key = "stacks." + stack.name + ".allow";
  if (!allow.written)
    return make_error(EACCES, "not_allowed: " + who + " may not use stack '" + stack.name + "': the stack has no `allow:` (" +
                                  place(config_file, stack.mark) + "), so only root may; add the uid to " + key +
                                  ".users or a group of it to " + key + ".groups");
  return make_error(EACCES, "not_allowed: " + who + " may not use stack '" + stack.name + "': its uid is not in " + key +
                                ".users and none of its groups is in " + key + ".groups (" +
                                place(config_file, allow.mark) + ")");
}

}  // namespace dmm::service
