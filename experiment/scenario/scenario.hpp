#pragma once
// The typed form of a scenario file (DESIGN.md §2.1). The loader validates everything here, so the simulator
// never parses or guesses; every field remembers where it came from for error messages.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dmm/nrd.hpp"
#include "dmm/nsocket.hpp"
#include "dmm/policy.hpp"
#include "dmm/policy_algorithm.hpp"
#include "dmm/result.hpp"
#include "dmm/session.hpp"
#include "dmm/stack_registry.hpp"
#include "dmm/units.hpp"

namespace dmm::scenario {

struct Mark {  // 1-based line and column in the scenario file
  int line = 0;
  int column = 0;
};

struct LinkSpec {
  std::string name;
  std::string a, b;  // the two nodes it joins (point-to-point)
  BitsPerSecond rate{100e6};
  Duration delay{std::chrono::milliseconds(1)};
  double loss = 0;
  // Drop-tail buffer of each end's sender, in packets (a router port's; ns-3's and a common default). Below the
  // path's bandwidth-delay product a loss-based TCP cannot fill the link, and below about twice the BDP ns-3's BBR
  // collapses (its start-up losses shrink its bandwidth estimate round after round): size it for such studies.
  std::uint32_t queue_packets = 100;
  Mark mark;
};

struct StackSpec {
  std::string name;        // instance name; unique per node, may repeat across nodes (one per node)
  std::string node;
  std::string kind;        // registry kind: `kernel`, `lwip-dpdk`, `ns3`, or a plug-in's
  std::string link;        // the link (path) this instance uses
  std::string tcp = "cubic";  // ns-3 TCP variant: newreno, cubic, bbr, vegas, westwood, htcp, ...
  Duration processing_delay{0};  // per-packet cost that may distinguish kernel from user-space stacks
  // How long a TCP connection this instance closed first stays in TIME_WAIT, holding its local port; absent: the
  // kind's own (60 s, Linux's TCP_TIMEWAIT_LEN; lwip-dpdk 120 s, lwIP's 2 x TCP_MSL). Shorter lets one client open
  // more connections a second to one server port. Simulation only.
  std::optional<Duration> time_wait;
  std::map<std::string, std::string> params;  // a plug-in kind's own parameters
  Mark mark;
};

struct NrdSpec {
  bool enabled = true;     // false when the scenario has no `nrd:` section
  std::string algorithm = "static";
  Duration period{std::chrono::milliseconds(500)};
  AlgorithmParams params;
  EstimatorConfig estimates;  // `estimates:`, the same keys and defaults as nrd.yaml's
  Duration sync_delay{std::chrono::milliseconds(5)};
  Duration probe_interval{std::chrono::seconds(1)};  // active probes per stack; 0 = passive only
  Mark mark;
};

struct RuleSpec {
  Rule rule;                       // dst already resolved (a node name becomes that node's address)
  std::optional<std::string> dst_text;  // as written
  Mark mark;
};

enum class WorkloadKind { bulk, request_response, on_off, command };

// `kind: command` (dmm-emu): an unmodified program run under dmm-run in the source node, once per session of the
// workload's schedule (`count` back to back, or `rate` launches). Each run is one session in sessions.csv: it
// completes when the program exits with status 0. `{to}` in its command lines is the destination node's address,
// `{port}` the workload's port.
struct CommandSpec {
  std::string run;                   // a shell command line (/bin/sh -c), `{to}` and `{port}` replaced
  std::optional<std::string> serve;  // started in the destination node before time zero, stopped at the end
  std::optional<Duration> timeout;   // a run still going after this is stopped and counted as failed
};

struct WorkloadSpec {
  std::string name;
  WorkloadKind kind = WorkloadKind::bulk;
  std::string from, to;
  std::uint16_t port = 0;
  Intent intent = Intent::default_;
  L4Proto proto = L4Proto::tcp;    // on-off may be udp; bulk and request-response are tcp
  Duration start{0};
  std::optional<Duration> stop;    // default: end of the run
  std::optional<double> rate;      // new sessions per second (Poisson); absent = `count` sessions back to back
  std::uint32_t count = 1;         // sessions when there is no rate
  ByteCount size = 0;              // bulk: bytes per session
  ByteCount request = 200;         // request-response
  ByteCount response = 16 * 1024;
  Duration on{std::chrono::seconds(1)};   // on-off
  Duration off{std::chrono::seconds(1)};
  BitsPerSecond send_rate{1e6};    // on-off: sending rate while on
  std::optional<CommandSpec> command;  // kind: command
  // A session still going after this is stopped and fails: a command's `timeout`, kept by its simulate_as.
  std::optional<Duration> session_timeout;
  // kind: command, `simulate_as:`: the built-in workload dmm-sim runs in its place (same name, nodes and
  // schedule); absent, dmm-sim refuses the scenario, naming this workload.
  std::shared_ptr<const WorkloadSpec> simulate_as;
  Mark mark;
};

enum class EventTarget { link, stack, nrd };

struct EventSpec {
  Duration at{0};
  EventTarget target = EventTarget::link;
  std::string name;                     // link or stack name (empty for nrd)
  std::optional<BitsPerSecond> rate;    // link: set
  std::optional<Duration> delay;
  std::optional<double> loss;
  std::optional<bool> down;             // link: down: true / up: true (=> down=false)
  std::optional<bool> fail;             // stack: fail: true / recover: true (=> fail=false)
  std::optional<bool> nrd_running;      // nrd: stop (false) / start (true)
  std::string as_text;                  // `set delay=200ms`, `down`, `up`, `fail`, `recover`, `stop`, `start`
  Mark mark;
};

struct ExpectSpec {
  std::optional<Duration> from, to;        // `between: [a, b]` (sessions *started* in the window)
  std::optional<std::string> workload;
  std::optional<std::string> stack;
  std::optional<double> share_at_least;    // of the sessions in scope, fraction carried by `stack`
  std::optional<double> share_at_most;
  std::optional<bool> completed;           // every session in scope completed
  std::optional<double> completed_at_least;  // fraction of sessions in scope that completed
  std::optional<std::uint64_t> sessions_at_least;
  std::optional<std::uint64_t> policy_changes_at_most;  // policy versions published in the window
  std::optional<Duration> median_completion_at_most;
  std::string as_text;                     // the entry as written, in flow style on one line, for the summary
  Mark mark;
};

// `nsocket:`: connect_timeout, sample_interval, local_failure_threshold, local_retry_after (the rest of
// NSocketConfig keeps its defaults). The core's own struct, so a default changes in one place.
struct NSocketSpec : NSocketConfig {};

struct Scenario {
  std::string file;       // path it was loaded from (for messages)
  std::string name;
  std::string description;  // optional free text: the question the scenario asks
  std::uint64_t seed = 1;
  Duration duration{std::chrono::seconds(10)};
  std::vector<std::string> nodes;
  std::vector<LinkSpec> links;
  std::vector<StackSpec> stacks;
  std::vector<std::string> plugins;  // shared libraries with extra stack kinds (resolved relative to the file)
  NrdSpec nrd;
  std::vector<RuleSpec> policy;
  std::vector<WorkloadSpec> workloads;
  std::vector<EventSpec> events;
  std::vector<ExpectSpec> expect;
  NSocketSpec nsocket;
  // How it was made (a results directory's provenance): the `--set` edits applied, in order, the `--seed` given
  // (if any), and the scenario as run — the file's YAML with both applied — as block-style YAML text.
  std::vector<std::string> overrides;
  std::optional<std::uint64_t> seed_option;
  std::string effective_yaml;
  // What the loader accepted but a person should hear about (dmm-sim prints each on stderr before running):
  // parameters dropped by `--set nrd.algorithm=...`, a run that will start very many sessions, ...
  std::vector<std::string> warnings;

  const LinkSpec* find_link(const std::string& name) const;
  int node_index(const std::string& name) const;  // -1 when unknown
};

// Sim addresses: node i is known to policies as 10.255.(i / 250).(i % 250 + 1) — its identity address; the
// ns-3 stack translates it into the peer's interface address on the stack's own link.
IpAddress node_address(int node_index);

struct LoadOptions {
  std::vector<std::string> overrides;   // `key=value` from --set, applied to the YAML before typing
  std::optional<std::uint64_t> seed;    // --seed
  // Stack kinds: the loader checks `kind:` and each extra key against the kind's declared `params`. When set,
  // `plugins:` libraries are loaded into it (paths relative to the scenario file). When null, only the
  // built-in kinds `kernel`, `lwip-dpdk` and `ns3` (no extra keys) are accepted and plug-ins are not loaded.
  // With a registry, its kinds are accepted too; a built-in name it does not register keeps no extra keys.
  StackRegistry* registry = nullptr;
  // Algorithms and their parameters; null = the built-in algorithms.
  const AlgorithmRegistry* algorithms = nullptr;
};

// Errors are EINVAL with message `FILE:LINE:COL: what is wrong`.
Result<Scenario> load_file(const std::string& path, const LoadOptions& options = {});
Result<Scenario> load_text(const std::string& text, const std::string& file_name, const LoadOptions& options = {});

}  // namespace dmm::scenario
