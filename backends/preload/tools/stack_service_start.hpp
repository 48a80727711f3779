#pragma once
// dmm-run starts dmm-stackd on demand: a host config whose lwip-dpdk instances dmm-stackd runs (it has `service:`)
// needs a daemon answering at `service.socket` before the program's first session. When none answers, dmm-run
// starts one — detached (its own session, so the program's Ctrl-C does not stop it), with `--idle-exit`, so that
// it ends by itself once no program has used it for a while — and waits until it answers. Programs started by
// other dmm-runs meanwhile find it there and share it.
#include <string>

#include "dmm/host/host_config.hpp"
#include "dmm/result.hpp"

namespace dmm::preload {

// Whether `config` needs dmm-stackd for its user-space instances.
bool needs_stack_service(const host::HostConfig& config);

// A daemon answers at the config's service socket (speaking the version that runs user-space instances), or one
// is started from `stackd` (the dmm-stackd program) with `config_path` and waited for; its log goes to
// `<socket>.log`. An error says what failed and quotes that log.
Status ensure_stack_service(const host::HostConfig& config, const std::string& config_path, const std::string& stackd);

}  // namespace dmm::preload
