#include "config_reload.hpp"

#include <algorithm>

namespace dmm::service {
namespace {

const host::StackSpec* find(const std::vector<host::StackSpec>& stacks, const std::string& name) {
  const auto it = std::find_if(stacks.begin(), stacks.end(), [&](const host::StackSpec& s) { return s.name == name; });
  return it == stacks.end() ? nullptr : &*it;
}

// The same instance, whatever its `allow:` says (params hold every other key as written).
bool same_instance(const host::StackSpec& a, const host::StackSpec& b) {
  return a.kind == b.kind && a.params == b.params;
}

}  // namespace

ConfigMerge merge_for_running_daemon(const host::HostConfig& running, host::HostConfig next) {
  ConfigMerge merge;
  std::vector<host::StackSpec> stacks;
  for (host::StackSpec& spec : next.stacks) {
    if (!spec.lwip_dpdk) {
      stacks.push_back(std::move(spec));
      continue;
    }
    const host::StackSpec* now = find(running.stacks, spec.name);
    if (now && now->lwip_dpdk && same_instance(*now, spec)) stacks.push_back(std::move(spec));  // allow: may differ
    else merge.not_applied.push_back(spec.name);  // added or changed: the running one stays, if any
  }
  // User-space instances the daemon runs stay in what it serves until it restarts (changed, or gone from the file).
  for (const host::StackSpec& spec : running.stacks) {
    if (!spec.lwip_dpdk) continue;
    const auto same_name = std::find_if(stacks.begin(), stacks.end(),
                                        [&](const host::StackSpec& s) { return s.name == spec.name; });
    if (same_name != stacks.end() && same_name->lwip_dpdk) continue;  // taken as it is now written
    if (std::find(merge.not_applied.begin(), merge.not_applied.end(), spec.name) == merge.not_applied.end())
      merge.not_applied.push_back(spec.name);
    if (same_name != stacks.end()) *same_name = spec;  // now of another kind: the instance runs on meanwhile
    else stacks.push_back(spec);
  }
  next.stacks = std::move(stacks);
  const bool same_service = next.service && running.service && next.service->socket == running.service->socket &&
                            next.service->mode == running.service->mode &&
                            next.service->max_peers == running.service->max_peers;
  if (!same_service) {
    next.service = running.service;
    merge.not_applied.push_back("service");
  }
  merge.config = std::move(next);
  return merge;
}

}  // namespace dmm::service
