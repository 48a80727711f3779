#include "emu_network.hpp"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "command.hpp"

namespace dmm::emu {
namespace {

Status step(const std::vector<std::string>& argv) {
  auto r = run_command(argv);
  if (!r) return r.error();
  return {};
}

// A veth with default offloads hands frames up with their checksums unfilled (CHECKSUM_PARTIAL); over AF_PACKET
// the emulator and lwIP would forward or read them as they are. Off on every end.
Status offloads_off(const std::string& ns, const std::string& interface) {
  return step({"ip", "netns", "exec", ns, "ethtool", "-K", interface, "tx", "off", "rx", "off", "tso", "off", "gso",
               "off", "gro", "off"});
}

std::vector<std::string> route_command(const std::string& ns, const std::string& verb, const NamespacePlan::Route& r) {
  std::vector<std::string> argv{"ip", "-n", ns, "route", verb, r.prefix, "via", r.gateway};
  if (!r.source.empty()) argv.insert(argv.end(), {"src", r.source});
  return argv;
}

// Kills every process still in namespace `ns` (a program a command workload started that outlived its group),
// then removes the namespace: one that still has processes would otherwise live on without its name.
Status remove_namespace(const std::string& ns) {
  if (auto pids = run_command({"ip", "netns", "pids", ns})) {
    std::istringstream in(*pids);
    for (long pid = 0; in >> pid;)
      if (pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
  return step({"ip", "netns", "del", ns});
}

}  // namespace

std::filesystem::path emu_scratch_root() { return "/run/dmm-emu"; }

std::string emu_prefix_for_this_process() { return std::string(kEmuPrefixStem) + std::to_string(::getpid()) + "-"; }

namespace {

// Whether `name` (a namespace or scratch directory) belongs to a dmm-emu run whose process is gone: dmme<pid>-*.
bool left_by_a_dead_run(const std::string& name) {
  const std::size_t stem = std::string_view(kEmuPrefixStem).size();
  const auto dash = name.find('-');
  if (name.rfind(kEmuPrefixStem, 0) != 0 || dash == std::string::npos || dash <= stem || dash - stem > 9) return false;
  const std::string pid_text = name.substr(stem, dash - stem);
  if (pid_text.find_first_not_of("0123456789") != std::string::npos) return false;
  const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
  return pid != ::getpid() && ::kill(pid, 0) != 0 && errno != EPERM;  // else its run is still going
}

}  // namespace

std::size_t sweep_stale_emu_namespaces() {
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec))
    if (left_by_a_dead_run(entry.path().filename().string()) && remove_namespace(entry.path().filename().string()))
      ++removed;
  // The scratch directories of dead runs (their nRD socket, their servers' files).
  for (const auto& entry : std::filesystem::directory_iterator(emu_scratch_root(), ec))
    if (left_by_a_dead_run(entry.path().filename().string())) std::filesystem::remove_all(entry.path(), ec);
  return removed;
}

Result<std::unique_ptr<EmuNetwork>> EmuNetwork::create(const EmuPlan& plan) {
  std::unique_ptr<EmuNetwork> net(new EmuNetwork(plan));
  auto fail = [&](const Error& e) { return Result<std::unique_ptr<EmuNetwork>>(make_error(e.code, e.message)); };
  for (const auto& ns : plan.namespaces) {
    if (auto st = step({"ip", "netns", "add", ns.name}); !st) return fail(st.error());
    net->made_.push_back(ns.name);
    if (auto st = step({"ip", "-n", ns.name, "link", "set", "lo", "up"}); !st) return fail(st.error());
    if (ns.identity)
      if (auto st = step({"ip", "-n", ns.name, "addr", "add", ns.identity->to_string() + "/32", "dev", "lo"}); !st)
        return fail(st.error());
  }
  for (const auto& v : plan.veths) {
    if (auto st = step({"ip", "-n", v.host_namespace, "link", "add", v.host_interface, "type", "veth", "peer", "name",
                        v.emulator_interface, "netns", plan.emulator_namespace});
        !st)
      return fail(st.error());
    for (const auto& [ns, interface] : {std::pair{v.host_namespace, v.host_interface},
                                        std::pair{plan.emulator_namespace, v.emulator_interface}}) {
      if (auto st = offloads_off(ns, interface); !st) return fail(st.error());
      if (auto st = step({"ip", "-n", ns, "link", "set", interface, "up"}); !st) return fail(st.error());
    }
    if (v.host_address)
      if (auto st = step({"ip", "-n", v.host_namespace, "addr", "add", v.host_address->to_string() + "/24", "dev",
                          v.host_interface});
          !st)
        return fail(st.error());
  }
  for (const auto& ns : plan.namespaces) {
    for (const auto& route : ns.routes)
      if (auto st = step(route_command(ns.name, "add", route)); !st) return fail(st.error());
  }
  return net;
}

Status EmuNetwork::set_stack_link(const StackPlan& stack, bool up) const {
  return set_up_with_routes(stack.namespace_name, stack.interface, up);
}

Status EmuNetwork::set_link_hosts(std::size_t link, bool up) const {
  for (const auto& v : plan_.veths)
    if (v.link == link)
      if (auto st = set_up_with_routes(v.host_namespace, v.host_interface, up); !st) return st;
  return {};
}

Status EmuNetwork::set_up_with_routes(const std::string& ns, const std::string& interface, bool up) const {
  if (auto st = step({"ip", "-n", ns, "link", "set", interface, up ? "up" : "down"}); !st || !up) return st;
  for (const auto& n : plan_.namespaces)
    if (n.name == ns)
      for (const auto& route : n.routes)  // `replace`: those through other interfaces are still there
        if (auto st = step(route_command(ns, "replace", route)); !st) return st;
  return {};
}

void EmuNetwork::remove_all() {
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) (void)remove_namespace(*it);
  made_.clear();
}

EmuNetwork::~EmuNetwork() { remove_all(); }

}  // namespace dmm::emu
