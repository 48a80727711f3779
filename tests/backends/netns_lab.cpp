#include "netns_lab.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/sockios.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "dmm/kernel/unique_fd.hpp"

namespace dmm::test {

using kernel::UniqueFd;

Status run_command(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return make_error(errno, "popen failed for: " + command);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = ::pclose(pipe);
  if (status != 0) return make_error(EIO, "`" + command + "` failed (status " + std::to_string(status) + "): " + output);
  return {};
}

NetnsLab::~NetnsLab() {
  // Reverse order; deleting a namespace removes its veth ends (and so the peers in the others).
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
    if (Status s = run_command("ip netns del " + *it); !s) std::fprintf(stderr, "cleanup: %s\n", s.error().message.c_str());
  }
}

namespace {

// Deletes `dmmt-<pid>-<n>` namespaces whose process no longer exists (it aborted or was killed mid-test).
void remove_namespaces_of_dead_tests() {
  DIR* dir = ::opendir("/run/netns");
  if (!dir) return;
  std::vector<std::string> stale;
  while (const dirent* entry = ::readdir(dir)) {
    int pid = 0, n = 0;
    char tail = 0;
    if (std::sscanf(entry->d_name, "dmmt-%d-%d%c", &pid, &n, &tail) == 2 && pid > 0 && ::kill(pid, 0) != 0 &&
        errno == ESRCH)
      stale.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  for (const std::string& name : stale) (void)run_command("ip netns del " + name);
}

}  // namespace

Result<std::string> NetnsLab::add_namespace() {
  if (next_namespace_ == 0) remove_namespaces_of_dead_tests();
  std::string name = "dmmt-" + std::to_string(::getpid()) + "-" + std::to_string(next_namespace_++);
  if (Status s = run_command("ip netns add " + name); !s) return s.error();
  namespaces_.push_back(name);
  if (Status s = run_command("ip -n " + name + " link set lo up"); !s) return s.error();
  return name;
}

Result<std::pair<std::string, std::string>> NetnsLab::link(const std::string& a, const std::string& a_address,
                                                           const std::string& b, const std::string& b_address) {
  const std::string n = std::to_string(next_link_++);
  const std::string ia = "dmv" + n + "a", ib = "dmv" + n + "b";
  // Created inside `a` with its peer moved straight into `b`: the pair never appears in the machine's namespace.
  const auto family = [](const std::string& address) { return address.find(':') != std::string::npos ? " -6" : ""; };
  const auto extra = [](const std::string& address) { return address.find(':') != std::string::npos ? " nodad" : ""; };
  std::vector<std::string> commands{"ip -n " + a + " link add " + ia + " type veth peer name " + ib + " netns " + b};
  // An end without an address is left to a user-space stack (the kernel then ignores IP traffic on it).
  if (!a_address.empty())
    commands.push_back("ip -n " + a + family(a_address) + " addr add " + a_address + " dev " + ia + extra(a_address));
  if (!b_address.empty())
    commands.push_back("ip -n " + b + family(b_address) + " addr add " + b_address + " dev " + ib + extra(b_address));
  commands.push_back("ip -n " + a + " link set " + ia + " up");
  commands.push_back("ip -n " + b + " link set " + ib + " up");
  for (const std::string& command : commands) {
    if (Status s = run_command(command); !s) return s.error();
  }
  return std::make_pair(ia, ib);
}

Status run_in_netns(const std::string& name, const std::function<void()>& fn) {
  Status outcome;
  std::thread worker([&] {
    UniqueFd ns(::open(netns_path(name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) {
      outcome = make_error(errno, "cannot enter namespace " + name + ": " + std::strerror(errno));
      return;
    }
    fn();
  });
  worker.join();
  return outcome;
}

Result<unsigned long> netns_inode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return make_error(errno, "stat " + path + ": " + std::strerror(errno));
  return static_cast<unsigned long>(st.st_ino);
}

Result<unsigned long> socket_netns_inode(int fd) {
  UniqueFd ns(::ioctl(fd, SIOCGSKNS));
  if (!ns) return make_error(errno, std::string("ioctl(SIOCGSKNS): ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(ns.get(), &st) != 0) return make_error(errno, std::string("fstat: ") + std::strerror(errno));
  return static_cast<unsigned long>(st.st_ino);
}

}  // namespace dmm::test
