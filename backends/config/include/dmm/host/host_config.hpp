#pragma once
// The host config `dmm.yaml` (DESIGN.md §2.5), read by dmm-run, the preload shim and dmm-nrd, typed and
// validated at load time so that nothing downstream parses or guesses (Envoy-style). Loading is pure: it reads
// the text and nothing else of the system; check_host() is the separate step that looks at the machine.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dmm/address.hpp"
#include "dmm/policy.hpp"
#include "dmm/result.hpp"
#include "dmm/stack.hpp"
#include "dmm/stack_registry.hpp"

namespace dmm::host {

struct Mark {  // 1-based line and column in the config file
  int line = 0;
  int column = 0;
};

// How a kernel instance opens its TCP sessions: plain TCP, or MPTCP (IPPROTO_MPTCP) while the program still
// asks for TCP.
enum class KernelProtocol : std::uint8_t { tcp, mptcp };

struct KernelStackSpec {
  std::optional<std::string> netns;  // a name under /run/netns; absent = the namespace the program runs in
  KernelProtocol protocol = KernelProtocol::tcp;
};

// An interface address with its prefix length, host bits kept: `10.77.0.2/24`.
struct InterfaceAddress {
  IpAddress address;
  std::uint8_t prefix_length = 0;
  IpPrefix subnet() const { return IpPrefix::of(address, prefix_length); }
  std::string to_string() const { return address.to_string() + "/" + std::to_string(prefix_length); }
};

struct LwipDpdkStackSpec {
  std::string vdev;                 // a DPDK --vdev argument, e.g. `net_af_packet0,iface=dmmu0`
  InterfaceAddress address;
  std::optional<IpAddress> gateway;  // on `address`'s subnet; absent = only the subnet is reachable
  std::optional<std::string> netns;  // the namespace the vdev's interface is in (af_packet, pcap)
  std::optional<Duration> user_timeout;  // sent data unacknowledged this long fails the connection
};

struct StackSpec {
  StackId name;
  std::string kind;  // `kernel`, `lwip-dpdk`, or a kind from the registry given to the loader
  // Every parameter as written (without name and kind), for StackRegistry::create; the typed view of a
  // built-in kind is below.
  std::map<std::string, std::string> params;
  std::optional<KernelStackSpec> kernel;        // set iff kind == "kernel"
  std::optional<LwipDpdkStackSpec> lwip_dpdk;   // set iff kind == "lwip-dpdk"
  Mark mark;
};

enum class LogLevel : std::uint8_t { trace, debug, info, warn, error };
std::string_view to_string(LogLevel level);
std::optional<LogLevel> parse_log_level(std::string_view text);

struct LogSpec {
  LogLevel level = LogLevel::info;
  std::optional<std::string> decisions;  // JSON lines, one per session decision; absolute path
  Mark mark;
};

// Where the orchestrators of this host reach dmm-nrd: exactly one of a Unix-domain socket (this host) or TCP
// (a daemon in another namespace or on another host).
struct NrdSpec {
  std::string socket;           // Unix-domain socket of dmm-nrd; absolute path; empty when `tcp` is set
  std::optional<Endpoint> tcp;  // `tcp: ADDRESS:PORT`
  Mark mark;
};

struct HostConfig {
  std::string file;                // as given to the loader
  std::vector<StackSpec> stacks;   // in file order; names unique
  Policy policy;                   // version 1, validated against `stacks`
  std::vector<Mark> rule_marks;    // where each rule of `policy` is written
  std::optional<NrdSpec> nrd;      // absent: the policy above stays as it is
  LogSpec log;
  std::vector<std::string> plugins;  // absolute paths of stack-kind plug-ins, in file order
  std::vector<Mark> plugin_marks;    // where each of `plugins` is written

  const StackSpec* find_stack(std::string_view name) const;
  std::vector<StackId> stack_names() const;
};

struct LoadOptions {
  // Kinds beyond `kernel` and `lwip-dpdk` come from here, with the parameter keys each accepts. With a
  // registry, the config's `plugins:` are loaded into it before stacks are typed (the loader's one side
  // effect: a plug-in's kinds are unknown until it is loaded). Without one, other kinds are errors.
  StackRegistry* registry = nullptr;
};

// Text in, a fully validated HostConfig or one error `FILE:LINE:COL: what is wrong` (EINVAL) out. Relative
// paths in the config are resolved against the directory of `file_name`. Never throws.
Result<HostConfig> load_host_config_text(const std::string& text, const std::string& file_name,
                                         const LoadOptions& options = {});
Result<HostConfig> load_host_config_file(const std::string& path, const LoadOptions& options = {});

// What the loader cannot know without looking at the machine: each named network namespace exists under
// /run/netns and is one, each lwip-dpdk vdev names a driver DPDK has and interfaces that exist (in the instance's
// `netns`), each plug-in file exists. Errors are `FILE:LINE:COL: what is wrong` at the offending entry (ENOENT,
// ENODEV for a missing interface, or EINVAL for a file that is not a namespace or an unknown vdev driver).
Status check_host(const HostConfig& config);

// The registry's view of an instance (StackRegistry::create).
StackConfig to_stack_config(const StackSpec& spec);

}  // namespace dmm::host
