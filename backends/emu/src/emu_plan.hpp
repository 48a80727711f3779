#pragma once
// How dmm-emu lays a scenario out on this machine (DESIGN.md §2.6), decided before anything is created: which
// network namespaces, veths and addresses, what the link emulator routes, and the scenario features that cannot be
// realised here (each refused with the scenario line and why). Pure: realising the plan is emu_network's job.
//
// Layout. Every namespace is named <prefix><role>, the prefix unique to the run (dmme<pid>-):
//   emu      the link emulator's: two veths per link (a<i>, b<i>), no addresses (ns-3 owns them)
//   s<j>     stack instance j of the scenario: its own namespace with its link's veth `l<i>`; a kernel instance
//            has 172.16.i.2 (side a) or 172.17.i.2 (side b) and a default route to the emulator (.1); an
//            lwip-dpdk instance leaves the veth without a kernel address (lwIP owns it, through net_af_packet)
//   n<k>     node k, when it has no stacks: the node's servers (workloads' and the probe echo) listen here, on its
//            identity address (10.255.x.y on lo, as in dmm-sim) and on one veth per link it ends
//   p<k>     node k's programs (`kind: command` workloads from it): only a loopback, so a session the shim did not
//            place on one of the node's stacks goes nowhere
// A node with stacks is a client: its sessions go out through its stacks' namespaces.
#include <optional>
#include <string>
#include <vector>

#include "dmm/address.hpp"
#include "dmm/result.hpp"
#include "run/link_emulation_spec.hpp"
#include "scenario/scenario.hpp"

namespace dmm::emu {

struct VethPlan {
  std::size_t link = 0;                        // index in Scenario::links
  std::string host_namespace, host_interface;  // the real side (a stack's or a node's namespace)
  std::string emulator_interface;              // in the emulator's namespace
  std::optional<IpAddress> host_address;       // /24 on the host side; none for a user-space stack
};

struct NamespacePlan {
  std::string name;
  std::optional<IpAddress> identity;   // a node's identity address (on lo)
  // Added once the veths are up: a kernel stack's `default` through its only link, a server node's way back to
  // the clients behind each link it ends.
  struct Route {
    std::string prefix, gateway;
    // The source address the namespace's new flows take on it (empty: the kernel's choice). A server node's
    // replies that the kernel addresses itself — a UDP server that connect()s to its client, as iperf3's does —
    // must come from the identity address the client sent to, not the veth's, or the client's connected socket
    // refuses them.
    std::string source;
  };
  std::vector<Route> routes;
};

// A plug-in kind's plan is empty but for `stack`: it is made from the run's other instances, in none of its own.
struct StackPlan {
  std::size_t stack = 0;     // index in Scenario::stacks
  std::string namespace_name;
  std::string interface;     // its link's veth in that namespace
  IpAddress address;         // its address on the link (kernel: the veth's; lwip-dpdk: lwIP's)
  IpAddress gateway;
  std::string congestion;    // TCP_CONGESTION of its sockets (`reno` for the scenario's `newreno`)
  std::string tcp_note;      // what the results should say about the TCP variant, empty if it is as written
};

struct EmuPlan {
  std::string prefix;  // dmme<pid>-
  std::string emulator_namespace;
  std::vector<NamespacePlan> namespaces;  // stacks' and server nodes', in creation order (emulator's first)
  std::vector<VethPlan> veths;
  std::vector<StackPlan> stacks;          // one per Scenario::stacks entry
  std::vector<std::optional<std::string>> node_namespaces;  // per node: its namespace if it has no stacks
  std::vector<std::optional<std::string>> program_namespaces;  // per node: its programs' namespace, if it runs any
  EmulatorSpec links;                     // for dmm-linkemu (without duration and seed: the run sets them)
  std::vector<std::string> notes;         // what differs from the scenario as written (one line each)
};

inline constexpr const char* kEmuPrefixStem = "dmme";

// EINVAL `FILE:LINE:COL: what cannot be emulated and why` for the features dmm-emu cannot realise.
Result<EmuPlan> plan_emulation(const scenario::Scenario& sc, const std::string& prefix);

}  // namespace dmm::emu
