// check_host: what loading cannot know without the machine. Kept apart so that the loader stays pure (and
// testable anywhere), while dmm-run can still refuse a config naming a namespace that is not there before it
// starts the program (issue 4: "a config that names a namespace that does not exist -> clear error").
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <net/if.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <string_view>
#include <thread>

#include "dmm/host/host_config.hpp"

namespace dmm::host {
namespace {

Error error_at(const HostConfig& config, const Mark& mark, int code, const std::string& what) {
  return make_error(code, config.file + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) + ": " +
                              what);
}

// A file under /run/netns is a bind mount of a namespace; after a crash or an unmount it may be left as an empty
// file, which setns() would refuse much later. NS_GET_NSTYPE tells a namespace (of which kind) from a file.
Status check_netns(const HostConfig& config, const StackSpec& stack, const std::string& name) {
  const std::string path = "/run/netns/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT)
      return error_at(config, stack.mark, ENOENT,
                      "stack '" + stack.name + "': network namespace '" + name + "' does not exist (no " + path +
                          "; create it with `ip netns add " + name + "`)");
    return error_at(config, stack.mark, err,
                    "stack '" + stack.name + "': cannot open " + path + ": " + std::strerror(err));
  }
  const int type = ::ioctl(fd, NS_GET_NSTYPE);
  const int err = errno;
  ::close(fd);
  if (type == CLONE_NEWNET) return {};
  if (type < 0 && err != ENOTTY)
    return error_at(config, stack.mark, err,
                    "stack '" + stack.name + "': cannot inspect " + path + ": " + std::strerror(err));
  return error_at(config, stack.mark, EINVAL,
                  "stack '" + stack.name + "': " + path + " is not a network namespace" +
                      (type < 0 ? " (a stale file? `ip netns add " + name + "` makes one)" : std::string()));
}

// The DPDK virtual-device drivers an lwip-dpdk instance can be made from (DPDK 22.11 as Debian builds it), and
// which `key=` of their arguments names a kernel interface that must exist (in the instance's `netns`).
struct VdevDriver {
  std::string_view name;
  std::array<std::string_view, 3> interface_keys;  // empty: the driver makes its interface or needs none
};
constexpr std::array<VdevDriver, 6> kVdevDrivers{{
    {"net_af_packet", {"iface"}},
    {"net_af_xdp", {"iface"}},
    {"net_pcap", {"iface", "rx_iface", "tx_iface"}},
    {"net_null", {}},
    {"net_ring", {}},
    {"net_tap", {}},  // iface= names the TAP device it creates
}};

std::string known_drivers() {
  std::string names;
  for (const VdevDriver& d : kVdevDrivers) names += (names.empty() ? "" : ", ") + std::string(d.name);
  return names;
}

// True if interface `name` exists in network namespace `netns` (the caller's own when absent). Looked up from a
// thread of its own: setns moves only the calling thread, and the caller's must stay where it is.
Result<bool> interface_exists(const std::optional<std::string>& netns, const std::string& name) {
  if (!netns) return ::if_nametoindex(name.c_str()) != 0;
  std::packaged_task<Result<bool>()> look([&]() -> Result<bool> {
    const std::string path = "/run/netns/" + *netns;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(errno, "cannot open " + path + ": " + std::strerror(errno));
    const int entered = ::setns(fd, CLONE_NEWNET);
    const int err = errno;
    ::close(fd);
    if (entered != 0) return make_error(err, "cannot enter network namespace '" + *netns + "': " + std::strerror(err));
    return ::if_nametoindex(name.c_str()) != 0;
  });
  auto result = look.get_future();
  std::thread(std::move(look)).join();
  return result.get();
}

// `net_af_packet0,iface=u0`: the driver is known, and the interfaces it names exist where the instance runs.
Status check_vdev(const HostConfig& config, const StackSpec& stack) {
  const LwipDpdkStackSpec& spec = *stack.lwip_dpdk;
  const std::string_view vdev = spec.vdev;
  const std::string_view device = vdev.substr(0, vdev.find(','));
  std::string_view driver = device;
  while (!driver.empty() && driver.back() >= '0' && driver.back() <= '9') driver.remove_suffix(1);
  const VdevDriver* known = nullptr;
  for (const VdevDriver& d : kVdevDrivers)
    if (d.name == driver) known = &d;
  if (!known)
    return error_at(config, stack.mark, EINVAL,
                    "stack '" + stack.name + "': vdev '" + spec.vdev + "': '" + std::string(device) +
                        "' is not a DPDK virtual device an lwip-dpdk instance can use (" + known_drivers() +
                        ", each followed by a number: net_af_packet0,iface=IF)");
  std::size_t at = device.size();
  while (at < vdev.size()) {
    const std::size_t end = std::min(vdev.find(',', at + 1), vdev.size());
    const std::string_view argument = vdev.substr(at + 1, end - at - 1);
    at = end;
    const std::size_t equals = argument.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view key = argument.substr(0, equals);
    const std::string interface(argument.substr(equals + 1));
    bool names_interface = false;
    for (std::string_view k : known->interface_keys) names_interface = names_interface || (!k.empty() && k == key);
    if (!names_interface) continue;
    Result<bool> exists = interface_exists(spec.netns, interface);
    if (!exists)
      return error_at(config, stack.mark, exists.error().code, "stack '" + stack.name + "': " + exists.error().message);
    if (!*exists)
      return error_at(config, stack.mark, ENODEV,
                      "stack '" + stack.name + "': vdev '" + spec.vdev + "': interface '" + interface +
                          "' does not exist in " +
                          (spec.netns ? "network namespace '" + *spec.netns + "'" : std::string("this namespace")) +
                          (spec.netns ? "" : " (name the namespace it is in with `netns:`)"));
  }
  return {};
}

// A kernel instance's `congestion:` must be one this kernel has (tcp_available_congestion_control); a module not
// loaded yet is loaded by the first socket that asks for it, as by sysctl, so it counts when it is on disk.
Status check_congestion(const HostConfig& config, const StackSpec& stack) {
  const std::string& wanted = *stack.kernel->congestion;
  std::ifstream in("/proc/sys/net/ipv4/tcp_available_congestion_control");
  std::string name, available;
  while (in >> name) {
    if (name == wanted) return {};
    available += (available.empty() ? "" : ", ") + name;
  }
  if (!in.eof() && available.empty()) return {};  // unreadable: the first socket will say
  struct utsname host {};
  ::uname(&host);
  const std::string module = std::string("/lib/modules/") + host.release + "/kernel/net/ipv4/tcp_" + wanted + ".ko";
  for (const char* suffix : {"", ".xz", ".zst", ".gz"})
    if (::access((module + suffix).c_str(), R_OK) == 0) return {};
  return error_at(config, stack.mark, ENOENT,
                  "stack '" + stack.name + "': congestion control '" + wanted + "' is not available in this kernel " +
                      "(available: " + available + ")");
}

}  // namespace

Status check_host(const HostConfig& config) {
  for (const StackSpec& stack : config.stacks) {
    const std::optional<std::string>& netns = stack.kernel ? stack.kernel->netns
                                              : stack.lwip_dpdk ? stack.lwip_dpdk->netns : std::nullopt;
    if (netns)
      if (Status s = check_netns(config, stack, *netns); !s) return s;
    // Looking at a vdev's interfaces means entering its namespace. A user who may not (a program started as a
    // user) need not: with `service:` the instance is dmm-stackd's, which checks it when it starts.
    const bool daemon_checks = config.service && ::geteuid() != 0;
    if (stack.lwip_dpdk && !daemon_checks)
      if (Status s = check_vdev(config, stack); !s) return s;
    if (stack.kernel && stack.kernel->congestion)
      if (Status s = check_congestion(config, stack); !s) return s;
  }
  for (std::size_t i = 0; i < config.plugins.size(); ++i) {
    const std::string& path = config.plugins[i];
    const Mark mark = i < config.plugin_marks.size() ? config.plugin_marks[i] : Mark{1, 1};
    if (::access(path.c_str(), R_OK) != 0) {
      const int err = errno;
      return error_at(config, mark, err, "plug-in " + path + ": " + std::strerror(err));
    }
  }
  return {};
}

}  // namespace dmm::host
