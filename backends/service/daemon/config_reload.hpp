#pragma once
// What of an edited host config a running dmm-stackd can take without a restart. Admission (`allow:` of every
// stack) and the kernel instances (their namespaces are opened per stack) apply at once. A user-space instance
// owns a port with live sessions on it: one added, removed or changed (anything but its `allow:`) keeps running as
// it was until the daemon restarts, and so does the daemon's own socket (`service:`). Pure: the daemon opens what
// the merged config needs.
#include <string>
#include <vector>

#include "dmm/host/host_config.hpp"

namespace dmm::service {

struct ConfigMerge {
  host::HostConfig config;               // what the daemon serves from now on
  std::vector<std::string> not_applied;  // what waits for a restart: stack names, or "service"
};

ConfigMerge merge_for_running_daemon(const host::HostConfig& running, host::HostConfig next);

}  // namespace dmm::service
