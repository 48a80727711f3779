#include "netns_topology.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <stdexcept>

#include "subprocess.hpp"

namespace dmm::test {
namespace {

std::atomic<int> g_counter{0};

std::string unique_name(const std::string& role) {
  return "dmmp-" + std::to_string(getpid()) + "-" + std::to_string(g_counter++) + "-" + role;
}

void ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  const Outcome o = run(argv, std::chrono::seconds(10));
  if (!o.finished || o.exit_code != 0) throw std::runtime_error(join(argv) + " failed: " + o.err);
}

// A veth pair made inside `a` with its peer moved straight into `b`: nothing ever appears in the machine's own
// namespace, and interface names only need to be unique within each test namespace.
void link(const std::string& a, const std::string& b) {
  ip({"-n", a, "link", "add", "v0", "type", "veth", "peer", "name", "v0", "netns", b});
  ip({"-n", a, "link", "set", "v0", "up"});
  ip({"-n", b, "link", "set", "v0", "up"});
}

// nodad: the IPv6 address is usable at once (duplicate address detection would hold it for about a second).
void address(const std::string& ns, const std::string& cidr) {
  if (cidr.find(':') != std::string::npos)
    ip({"-n", ns, "addr", "add", cidr, "dev", "v0", "nodad"});
  else
    ip({"-n", ns, "addr", "add", cidr, "dev", "v0"});
}

}  // namespace

void sweep_stale_namespaces() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("dmmp-", 0) != 0) continue;
    const auto dash = name.find('-', 5);
    if (dash == std::string::npos) continue;
    const int pid = std::atoi(name.substr(5, dash - 5).c_str());
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) run({"ip", "netns", "del", name});
  }
}

std::string Topology::add_namespace(const std::string& role) {
  const std::string name = unique_name(role);
  ip({"netns", "add", name});
  made_.push_back(name);
  ip({"-n", name, "link", "set", "lo", "up"});
  return name;
}

LoopbackNamespace::LoopbackNamespace(const std::string& role) : name_(unique_name(role)) {
  sweep_stale_namespaces();
  ip({"netns", "add", name_});
  try {
    ip({"-n", name_, "link", "set", "lo", "up"});
  } catch (...) {
    run({"ip", "netns", "del", name_});
    throw;
  }
}

LoopbackNamespace::~LoopbackNamespace() { run({"ip", "netns", "del", name_}); }

Topology::Topology() {
  sweep_stale_namespaces();
  try {
    cli_ = add_namespace("cli");
    blue_ = add_namespace("blue");
    red_ = add_namespace("red");
    dead_ = add_namespace("dead");
    srv_ = add_namespace("srv");
    link(blue_, srv_);  // v0 in blue <-> v0 in srv
    address(blue_, "10.232.1.2/24");
    address(blue_, "fd00:232:1::2/64");
    address(srv_, "10.232.1.1/24");
    address(srv_, "fd00:232:1::1/64");
    ip({"-n", red_, "link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", srv_});
    ip({"-n", red_, "link", "set", "v0", "up"});
    ip({"-n", srv_, "link", "set", "v1", "up"});
    ip({"-n", red_, "addr", "add", "10.232.2.2/24", "dev", "v0"});
    ip({"-n", srv_, "addr", "add", "10.232.2.1/24", "dev", "v1"});
    ip({"-n", blue_, "route", "add", "10.232.2.0/24", "via", "10.232.1.1"});
    ip({"-n", red_, "route", "add", "10.232.1.0/24", "via", "10.232.2.1"});
  } catch (...) {
    for (const auto& ns : made_) run({"ip", "netns", "del", ns});
    throw;
  }
}

Topology::~Topology() {
  // Deleting a namespace destroys its veth ends, and with them their peers.
  for (const auto& ns : made_) run({"ip", "netns", "del", ns});
}

void Topology::add_user_path(int n) {
  const std::string dev = "u" + std::to_string(n);
  ip({"-n", cli_, "link", "add", dev, "type", "veth", "peer", "name", dev, "netns", srv_});
  ip({"-n", cli_, "link", "set", dev, "up"});
  ip({"-n", srv_, "link", "set", dev, "up"});
  ip({"-n", srv_, "addr", "add", "10.232." + std::to_string(3 + n) + ".1/24", "dev", dev});
  // The server's end keeps a veth's default offloads, as users' veths do.
}

std::vector<std::string> Topology::in(const std::string& ns, const std::vector<std::string>& command) const {
  std::vector<std::string> argv{"ip", "netns", "exec", ns};
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::vector<std::string> Topology::in_cli(const std::vector<std::string>& command) const {
  return in(cli_, command);
}

}  // namespace dmm::test
