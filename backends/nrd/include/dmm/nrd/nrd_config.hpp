#pragma once
// nrd.yaml, the daemon's own config (README: "nrd.yaml"), typed and validated at load time like dmm.yaml, with
// `FILE:LINE:COL: what is wrong` errors. The stacks (what is probed) and the initial policy come from the host
// config it names (`host:`), so the daemon and the programs of a host share one description of the host.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "dmm/active_prober.hpp"
#include "dmm/host/host_config.hpp"
#include "dmm/nrd.hpp"
#include "dmm/nrd/nrd_address.hpp"
#include "dmm/policy_algorithm.hpp"
#include "dmm/result.hpp"

namespace dmm::nrd {

struct ListenSpec {
  std::string unix_path;              // where local orchestrators connect (defaults to the host config's nrd.socket)
  mode_t unix_mode = 0600;            // permission bits of the socket file
  std::vector<uid_t> allow_uids;      // peers (SO_PEERCRED) with one of these uids ...
  std::vector<gid_t> allow_gids;      // ... or one of these gids are let in; default: the daemon's own uid
  std::optional<Endpoint> tcp;        // orchestrators on other hosts/namespaces
  std::vector<IpPrefix> tcp_allow;    // source prefixes let in over TCP; empty = any
};

struct ProbeTargetSpec {
  StackId stack;     // a kernel stack of the host config
  Endpoint to;
  ProbeKind kind = ProbeKind::echo;
};

struct ProbeSpec {
  Duration interval = std::chrono::seconds(1);
  Duration timeout = std::chrono::seconds(2);
  ByteCount payload = 64;
  std::vector<ProbeTargetSpec> targets;
};

struct DaemonLimits {
  std::size_t max_message = 1u << 20;     // body bytes of one incoming message
  std::size_t max_peers = 1024;
  std::size_t send_queue = 4u << 20;      // bytes waiting for one peer; beyond: a slow subscriber, dropped
  Duration heartbeat = std::chrono::seconds(1);
  Duration peer_timeout = std::chrono::seconds(5);  // silence (no heartbeat, no hello) that drops a peer
};

struct NrdDaemonConfig {
  std::string file;                      // nrd.yaml as given
  host::HostConfig host;                 // stacks and the initial policy
  ListenSpec listen;
  std::string algorithm = "min-rtt";
  AlgorithmParams params;
  NrdConfig nrd;                         // period, EWMA weight, failure threshold, retry_after
  ProbeSpec probes;
  std::optional<std::string> state;      // last published policy, written atomically; read back at start
  std::optional<std::string> record;     // one JSON line per period (the decisions dmm-ctl watch shows)
  std::optional<Endpoint> metrics;       // Prometheus text over HTTP, loopback only
  host::LogLevel log_level = host::LogLevel::info;
  DaemonLimits limits;
};

// Reads nrd.yaml and the host config it names. `own_uid`: the default for listen.allow_uids.
Result<NrdDaemonConfig> load_nrd_config_text(const std::string& text, const std::string& file_name, uid_t own_uid);
Result<NrdDaemonConfig> load_nrd_config_file(const std::string& path, uid_t own_uid);

}  // namespace dmm::nrd
