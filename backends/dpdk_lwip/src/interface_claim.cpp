#include "interface_claim.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dmm::lwip_dpdk {
namespace {

constexpr const char* kDirectory = "/run/dmm/lwip";

std::vector<std::string> interfaces_of(const std::string& vdev) {
  std::vector<std::string> out;
  std::stringstream parts(vdev);
  std::string part;
  std::getline(parts, part, ',');  // the driver
  while (std::getline(parts, part, ',')) {
    const auto eq = part.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = part.substr(0, eq);
    if (key == "iface" || key == "rx_iface" || key == "tx_iface") out.push_back(part.substr(eq + 1));
  }
  return out;
}

std::string holder_of(int fd) {
  char text[256] = {};
  const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  std::string s(text, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "another process" : s;
}

}  // namespace

Result<InterfaceClaim> InterfaceClaim::claim(const std::string& vdev, const std::string& netns_path) {
  InterfaceClaim claim;
  const std::vector<std::string> interfaces = interfaces_of(vdev);
  if (interfaces.empty()) return claim;
  struct stat ns {};
  if (::stat(netns_path.empty() ? "/proc/self/ns/net" : netns_path.c_str(), &ns) != 0) return claim;
  if ((::mkdir("/run/dmm", 0755) != 0 && errno != EEXIST) || (::mkdir(kDirectory, 0755) != 0 && errno != EEXIST))
    return claim;
  for (const std::string& iface : interfaces) {
    const std::string path = std::string(kDirectory) + "/" + std::to_string(ns.st_ino) + "." + iface + ".lock";
    kernel::UniqueFd fd;
    // A holder that stops removes the file under its lock: the file locked must still be the one at the path.
    for (int attempt = 0; attempt < 8; ++attempt) {
      fd = kernel::UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
      if (!fd) break;
      if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        const std::string where = netns_path.empty() ? "this namespace" : netns_path;
        return make_error(EBUSY, "interface '" + iface + "' (" + where + ") is driven by " + holder_of(fd.get()) +
                                     ": two user-space stacks on one interface reset each other's connections; "
                                     "share that instance instead (a host config with `service:` runs it in "
                                     "dmm-stackd for every program)");
      }
      struct stat locked {}, named {};
      if (::fstat(fd.get(), &locked) == 0 && ::stat(path.c_str(), &named) == 0 && locked.st_ino == named.st_ino &&
          locked.st_dev == named.st_dev)
        break;
      fd.reset();  // removed meanwhile by the holder that stopped: lock the new one
    }
    if (!fd) continue;
    char self[64] = {};
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    const std::string program = n > 0 ? std::string(self, static_cast<std::size_t>(n)) : "?";
    const std::string text = "pid " + std::to_string(::getpid()) + " (" +
                             program.substr(program.find_last_of('/') + 1) + ")\n";
    if (::ftruncate(fd.get(), 0) == 0) (void)::pwrite(fd.get(), text.data(), text.size(), 0);
    claim.locks_.push_back(Lock{path, std::move(fd)});
  }
  return claim;
}

void InterfaceClaim::release() {
  for (Lock& lock : locks_)
    if (lock.fd) ::unlink(lock.path.c_str());  // still ours (locked): nobody else has it
  locks_.clear();
}

InterfaceClaim& InterfaceClaim::operator=(InterfaceClaim&& other) noexcept {
  if (this != &other) {
    release();
    locks_ = std::move(other.locks_);
  }
  return *this;
}

InterfaceClaim::~InterfaceClaim() { release(); }

}  // namespace dmm::lwip_dpdk
