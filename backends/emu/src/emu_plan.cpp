#include "emu_plan.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace dmm::emu {
namespace {

std::string at(const scenario::Scenario& sc, const scenario::Mark& m) {
  return sc.file + ":" + std::to_string(m.line) + ":" + std::to_string(m.column) + ": ";
}

// 172.16.i.0/24 on a link's side a, 172.17.i.0/24 on side b: the host is .2, the emulator .1.
IpAddress side_address(std::size_t link, int side, std::uint32_t host) {
  return IpAddress::v4((172u << 24) | ((16u + static_cast<std::uint32_t>(side)) << 16) |
                       (static_cast<std::uint32_t>(link) << 8) | host);
}

// The kinds dmm-emu realises itself on a link's interface; any other comes from a plug-in.
bool real_kind(const std::string& kind) { return kind == "kernel" || kind == "lwip-dpdk"; }

std::set<std::string> available_congestion_controls() {
  std::ifstream in("/proc/sys/net/ipv4/tcp_available_congestion_control");
  std::set<std::string> names;
  std::string name;
  while (in >> name) names.insert(name);
  return names;
}

}  // namespace

Result<EmuPlan> plan_emulation(const scenario::Scenario& sc, const std::string& prefix) {
  EmuPlan plan;
  plan.prefix = prefix;
  plan.emulator_namespace = prefix + "emu";
  plan.namespaces.push_back({plan.emulator_namespace, std::nullopt, {}});
  if (sc.links.size() > 256)
    return make_error(EINVAL, sc.file + ": dmm-emu addresses at most 256 links (this scenario has " +
                                  std::to_string(sc.links.size()) + ")");

  // Which stack ends which side of which link.
  std::vector<std::array<std::optional<std::size_t>, 2>> stack_at(sc.links.size());
  std::vector<bool> node_has_stacks(sc.nodes.size(), false);
  const auto congestion = available_congestion_controls();
  for (std::size_t j = 0; j < sc.stacks.size(); ++j) {
    const auto& s = sc.stacks[j];
    if (s.kind == "ns3")
      return make_error(EINVAL, at(sc, s.mark) + "stack '" + s.name + "': kind 'ns3' has no real backend in "
                                    "dmm-emu (kernel, lwip-dpdk, or a plug-in kind)");
    if (!real_kind(s.kind)) {
      // A plug-in kind builds on the run's other instances (a relay over one of them): it has no interface of
      // its own, so a link it names would be one nobody carries.
      if (!s.link.empty())
        return make_error(EINVAL, at(sc, s.mark) + "stack '" + s.name + "': a plug-in kind has no interface of its "
                                      "own in dmm-emu, so it cannot have link '" + s.link + "'");
      node_has_stacks[static_cast<std::size_t>(sc.node_index(s.node))] = true;
      continue;
    }
    const auto* link = sc.find_link(s.link);
    const std::size_t i = static_cast<std::size_t>(link - sc.links.data());
    const int side = link->a == s.node ? 0 : 1;
    if (stack_at[i][side])
      return make_error(EINVAL, at(sc, s.mark) + "stack '" + s.name + "': dmm-emu gives each stack its link's "
                                    "interface, and '" + sc.stacks[*stack_at[i][side]].name + "' on node '" + s.node +
                                    "' already uses link '" + s.link + "'");
    stack_at[i][side] = j;
    node_has_stacks[static_cast<std::size_t>(sc.node_index(s.node))] = true;
  }
  for (std::size_t i = 0; i < sc.links.size(); ++i) {
    if (stack_at[i][0] && stack_at[i][1])
      return make_error(EINVAL, at(sc, sc.links[i].mark) + "link '" + sc.links[i].name + "': dmm-emu needs a server "
                                    "node at one end, and both ends have stacks");
  }
  plan.program_namespaces.resize(sc.nodes.size());
  for (const auto& w : sc.workloads) {
    if (node_has_stacks[static_cast<std::size_t>(sc.node_index(w.to))])
      return make_error(EINVAL, at(sc, w.mark) + "workload '" + w.name + "': dmm-emu runs servers only on nodes "
                                    "without stacks, and '" + w.to + "' has stacks");
    if (w.kind != scenario::WorkloadKind::command) continue;
    for (const auto& s : sc.stacks)
      if (s.node == w.from && s.kind != "kernel")  // lwIP, or a plug-in kind: an object in dmm-emu's process
        return make_error(EINVAL, at(sc, w.mark) + "workload '" + w.name + "': a command's program reaches " +
                                      "only kernel stacks, and '" + w.from + "' has " + s.kind + " stack '" + s.name +
                                      "' (its instance lives in dmm-emu's process" +
                                      (s.kind == "lwip-dpdk" ? "; sharing a user-space instance with programs is "
                                                               "issue 14)" : ")"));
    for (const auto& s : sc.stacks)
      if (s.node != w.from)
        return make_error(EINVAL, at(sc, w.mark) + "workload '" + w.name + "': a command's program applies the " +
                                      "scenario's policies only if it has every stack they name, and stack '" +
                                      s.name + "' is on node '" + s.node + "', not on '" + w.from + "'");
    const auto k = static_cast<std::size_t>(sc.node_index(w.from));
    if (!plan.program_namespaces[k]) {
      plan.program_namespaces[k] = prefix + "p" + std::to_string(k);
      plan.namespaces.push_back({*plan.program_namespaces[k], std::nullopt, {}});
    }
  }

  // Namespaces of the nodes without stacks: their servers' home.
  plan.node_namespaces.resize(sc.nodes.size());
  for (std::size_t k = 0; k < sc.nodes.size(); ++k) {
    if (node_has_stacks[k]) continue;
    plan.node_namespaces[k] = prefix + "n" + std::to_string(k);
    plan.namespaces.push_back({*plan.node_namespaces[k], scenario::node_address(static_cast<int>(k)), {}});
  }
  // Stacks: a namespace each, on their link's side.
  plan.stacks.resize(sc.stacks.size());
  for (std::size_t j = 0; j < sc.stacks.size(); ++j) {
    const auto& s = sc.stacks[j];
    plan.stacks[j].stack = j;
    if (!real_kind(s.kind)) continue;  // a plug-in kind: made from the others, in no namespace of its own
    const auto* link = sc.find_link(s.link);
    const std::size_t i = static_cast<std::size_t>(link - sc.links.data());
    const int side = link->a == s.node ? 0 : 1;
    StackPlan& p = plan.stacks[j];
    p.stack = j;
    p.namespace_name = prefix + "s" + std::to_string(j);
    p.interface = "l" + std::to_string(i);
    p.address = side_address(i, side, 2);
    p.gateway = side_address(i, side, 1);
    NamespacePlan ns{p.namespace_name, std::nullopt, {}};
    if (s.kind == "kernel") ns.routes.push_back({"default", p.gateway.to_string(), ""});  // lwIP routes by itself
    if (s.kind == "kernel") {
      p.congestion = s.tcp == "newreno" ? "reno" : s.tcp;
      if (!congestion.count(p.congestion)) {
        std::string known;
        for (const auto& c : congestion) known += (known.empty() ? "" : ", ") + c;
        return make_error(EINVAL, at(sc, s.mark) + "stack '" + s.name + "': tcp: " + s.tcp +
                                      " is not available in this kernel (available: " + known + ")");
      }
      if (s.tcp == "newreno") p.tcp_note = "stack '" + s.name + "': tcp newreno runs as Linux's reno";
    } else {
      p.congestion = "lwip";
      p.tcp_note = "stack '" + s.name + "': lwIP uses its own congestion control (RFC 5681), not tcp " + s.tcp;
    }
    if (!p.tcp_note.empty()) plan.notes.push_back(p.tcp_note);
    if (s.processing_delay.count() > 0)
      plan.notes.push_back("stack '" + s.name + "': processing_delay has no meaning on a real stack (ignored)");
    if (s.time_wait)
      plan.notes.push_back("stack '" + s.name + "': time_wait is a simulation setting; a real stack keeps its own "
                           "(Linux 60 s, lwIP 120 s; ignored)");
    plan.namespaces.push_back(ns);
  }
  // Links: a veth pair per side into the emulator's namespace; the emulator's routes.
  for (std::size_t i = 0; i < sc.links.size(); ++i) {
    const auto& l = sc.links[i];
    LinkSpec link;
    link.index = static_cast<std::uint32_t>(i);
    link.name = l.name;
    link.rate = l.rate;
    link.delay = l.delay;
    link.loss = l.loss;
    link.queue_packets = l.queue_packets;
    for (int side = 0; side < 2; ++side) {
      const std::string& node = side == 0 ? l.a : l.b;
      const std::size_t k = static_cast<std::size_t>(sc.node_index(node));
      LinkSide& ls = side == 0 ? link.a : link.b;
      ls.interface = (side == 0 ? "a" : "b") + std::to_string(i);
      ls.host = side_address(i, side, 2);
      ls.emulator = side_address(i, side, 1);
      VethPlan veth{i, "", "l" + std::to_string(i), ls.interface, ls.host};
      if (stack_at[i][side]) {
        const auto& s = sc.stacks[*stack_at[i][side]];
        veth.host_namespace = plan.stacks[*stack_at[i][side]].namespace_name;
        if (s.kind != "kernel") veth.host_address.reset();  // lwIP's address, not the kernel's
      } else if (plan.node_namespaces[k]) {
        veth.host_namespace = *plan.node_namespaces[k];
        ls.behind.push_back(scenario::node_address(static_cast<int>(k)));
        // The way back to the clients on the other side of this link.
        auto& ns = *std::find_if(plan.namespaces.begin(), plan.namespaces.end(),
                                 [&](const NamespacePlan& n) { return n.name == veth.host_namespace; });
        const IpAddress far = side_address(i, 1 - side, 0);
        ns.routes.push_back({far.to_string() + "/24", ls.emulator.to_string(), ns.identity->to_string()});
      } else {
        ls.interface.clear();  // a node with stacks, none on this link: this end is not used (no veth)
        continue;
      }
      plan.veths.push_back(veth);
    }
    plan.links.links.push_back(std::move(link));
  }
  for (const auto& e : sc.events) {
    if (e.target == scenario::EventTarget::stack && e.fail)
      for (const auto& s : sc.stacks)
        if (s.name == e.name && !real_kind(s.kind))
          return make_error(EINVAL, at(sc, e.mark) + "stack '" + e.name + "' is of plug-in kind '" + s.kind +
                                        "', which has no interface to take down (plug-in kinds cannot fail on cue)");
    if (e.target != scenario::EventTarget::link) continue;
    LinkEventSpec le;
    le.at = e.at;
    le.link = static_cast<std::uint32_t>(sc.find_link(e.name) - sc.links.data());
    le.rate = e.rate;
    le.delay = e.delay;
    le.loss = e.loss;
    if (e.down) le.up = !*e.down;
    plan.links.events.push_back(le);
  }
  return plan;
}

}  // namespace dmm::emu
