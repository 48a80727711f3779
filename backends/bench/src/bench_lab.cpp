#include "bench_lab.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "bench_process.hpp"

namespace dmm::bench {
namespace {

constexpr const char* kPrefix = "dmmb-";

}  // namespace

void sweep_stale_lab_namespaces() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    const auto dash = name.find('-', 5);
    if (dash == std::string::npos) continue;
    const int pid = std::atoi(name.substr(5, dash - 5).c_str());
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) (void)ip({"netns", "del", name});
  }
}

BenchLab::BenchLab() { sweep_stale_lab_namespaces(); }

BenchLab::~BenchLab() {
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) (void)ip({"netns", "del", *it});
}

Result<std::string> BenchLab::add_namespace(const std::string& role) {
  const std::string name = kPrefix + std::to_string(::getpid()) + "-" + role;
  if (Status s = ip({"netns", "add", name}); !s) return s.error();
  made_.push_back(name);
  if (Status s = ip({"-n", name, "link", "set", "lo", "up"}); !s) return s.error();
  return name;
}

Status BenchLab::link(const std::string& a, const std::string& a_dev, const std::string& a_address,
                      const std::string& b, const std::string& b_dev, const std::string& b_address) {
  if (Status s = ip({"-n", a, "link", "add", a_dev, "type", "veth", "peer", "name", b_dev, "netns", b}); !s)
    return s;
  for (const auto& [ns, dev, address] : {std::tuple{a, a_dev, a_address}, std::tuple{b, b_dev, b_address}}) {
    if (!address.empty())
      if (Status s = ip({"-n", ns, "addr", "add", address, "dev", dev}); !s) return s;
    if (Status s = ip({"-n", ns, "link", "set", dev, "up"}); !s) return s;
  }
  return {};
}

Status BenchLab::sysctl(const std::string& ns, const std::string& key, const std::string& value) {
  const std::vector<std::string> argv{"sysctl", "-qw", key + "=" + value};
  auto outcome = run_process(argv, {}, path_of(ns), std::chrono::seconds(10));
  if (!outcome) return outcome.error();
  if (outcome->exit_code != 0) return make_error(EIO, join_command(argv) + " in " + ns + " failed");
  return {};
}

Result<PlacementLab> make_placement_lab(BenchLab& lab, const std::string& client_address,
                                        const std::string& server_address) {
  PlacementLab made;
  for (auto [field, role] : {std::pair{&made.cli, "cli"}, std::pair{&made.blue, "blue"}, std::pair{&made.srv, "srv"}}) {
    auto name = lab.add_namespace(role);
    if (!name) return name.error();
    *field = *name;
  }
  if (Status s = lab.link(made.blue, "v0", client_address + "/24", made.srv, "v0", server_address + "/24"); !s)
    return s.error();
  // Connection-rate clients open tens of thousands of connections: the whole port range, TIME_WAIT ports reused,
  // in the namespace whose sockets carry them (blue, in every variant).
  if (Status s = lab.sysctl(made.blue, "net.ipv4.ip_local_port_range", "1024 65535"); !s) return s.error();
  if (Status s = lab.sysctl(made.blue, "net.ipv4.tcp_tw_reuse", "1"); !s) return s.error();
  return made;
}

}  // namespace dmm::bench
