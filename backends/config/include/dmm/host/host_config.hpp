#pragma once
// The host config `dmm.yaml` (DESIGN.md §2.5), read by dmm-run, the preload shim, dmm-nrd and dmm-stackd, typed and
// validated at load time so that nothing downstream parses or guesses (Envoy-style). Loading reads the text and,
// for user and group names under a stack's `allow:`, the host's account database (getpwnam_r/getgrnam_r: a name is
// only meaningful as the number it stands for, and an unknown one must fail at its line, not at a peer's request);
// nothing else of the system. check_host() is the separate step that looks at namespaces and plug-ins.
#include <sys/types.h>

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

// Who may get sockets of a kernel instance, or sessions of a user-space one, through dmm-stackd (`allow: {users: [...], groups: [...]}`). Root (uid 0)
// always may; another peer may if its uid is in `users`, or its gid or one of its supplementary groups is in
// `groups`. Without `allow:` only root may. Names are resolved to numbers when the config is loaded.
struct AllowSpec {
  std::vector<uid_t> users;
  std::vector<gid_t> groups;
  bool written = false;  // `allow:` is in the config (else only root)
  Mark mark;             // where `allow:` is written (of the stack when it is not)
};

struct KernelStackSpec {
  std::optional<std::string> netns;  // a name under /run/netns; absent = the namespace the program runs in
  KernelProtocol protocol = KernelProtocol::tcp;
  // `congestion: cubic`: TCP congestion control of the instance's TCP sockets (TCP_CONGESTION on each one, so a
  // namespace whose default differs, or that may not select it as its default, still gets it); absent = the
  // namespace's default.
  std::optional<std::string> congestion;
  AllowSpec allow;                   // dmm-stackd's admission for this instance; not a registry parameter
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
  // IPv6 next to IPv4 (static, no duplicate address detection); absent = IPv4 only. On-link destinations only
  // (its prefix): lwIP 2.1 learns IPv6 routers from router advertisements alone.
  std::optional<InterfaceAddress> address6;
  std::optional<std::string> netns;  // the namespace the vdev's interface is in (af_packet, pcap)
  std::optional<Duration> user_timeout;  // sent data unacknowledged this long fails the connection
  AllowSpec allow;  // who may open sessions on it through dmm-stackd, which runs it; not a registry parameter
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

// Where dmm-stackd, the host's stack service, listens (a Unix-domain SOCK_SEQPACKET socket) and where the preload
// shim asks it for sockets of instances its process may not enter itself (backends/service/README.md).
struct ServiceSpec {
  std::string socket;             // absolute path, at most 107 bytes (sun_path)
  mode_t mode = 0666;             // permission bits of the socket file; admission is per stack (`allow:`)
  std::uint32_t max_peers = 1024;  // connections at once (each program under dmm-run keeps one)
  Mark mark;
};

struct HostConfig {
  std::string file;                // as given to the loader
  std::vector<StackSpec> stacks;   // in file order; names unique
  Policy policy;                   // version 1, validated against `stacks`
  std::vector<Mark> rule_marks;    // where each rule of `policy` is written
  std::optional<NrdSpec> nrd;      // absent: the policy above stays as it is
  std::optional<ServiceSpec> service;  // absent: no stack service on this host
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
  // `allow:` names (users, groups) are looked up in the account database, so that an unknown one fails at its
  // line. The preload shim turns this off: admission is dmm-stackd's business, and looking accounts up inside
  // the program (NSS modules, a chroot without /etc/passwd) must not decide whether DMM starts there. Names are
  // then checked for form only and left out of AllowSpec.
  bool resolve_accounts = true;
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
