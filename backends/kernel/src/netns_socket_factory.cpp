#include "dmm/kernel/netns_socket_factory.hpp"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>

#include "dmm/kernel/sys_error.hpp"

namespace dmm::kernel {
namespace {

Result<UniqueFd> open_netns_file(const std::string& path, const std::string& label) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return make_error(ENOENT, "network namespace '" + label + "' does not exist (no " + path + ")");
    return last_sys_error("cannot open network namespace '" + label + "' (" + path + ")");
  }
  // A stale file under /run/netns (left after an unmount) is a plain file: ENOTTY here, and setns would fail
  // much later, on the first socket.
  const int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
  if (type != CLONE_NEWNET) return make_error(EINVAL, path + " is not a network namespace");
  return moved_at_or_above(std::move(fd), high_fd_floor());
}

bool same_file(int a, int b) {
  struct stat sa {}, sb{};
  if (::fstat(a, &sa) != 0 || ::fstat(b, &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

int high_fd_floor(int reserve) {
  rlimit limit{};
  rlim_t ceiling = 1024;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < ceiling) ceiling = limit.rlim_cur;
  const auto r = static_cast<rlim_t>(reserve);
  return ceiling > r + 3 ? static_cast<int>(ceiling - r) : 3;
}

Result<UniqueFd> raw_socket(int domain, int type, int protocol) {
  const long fd = ::syscall(SYS_socket, domain, type, protocol);
  if (fd < 0) return last_sys_error("socket");
  return UniqueFd(static_cast<int>(fd));
}

Result<NetnsSocketFactory> NetnsSocketFactory::open(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    return make_error(EINVAL, "invalid network namespace name '" + name + "'");
  return open_path("/run/netns/" + name, name);
}

Result<NetnsSocketFactory> NetnsSocketFactory::open_path(const std::string& path, const std::string& label) {
  auto target = open_netns_file(path, label);
  if (!target) return target.error();
  auto home = open_netns_file("/proc/thread-self/ns/net", "of the calling thread");
  if (!home) return home.error();
  const bool is_home = same_file(target->get(), home->get());
  return NetnsSocketFactory(std::move(*target), std::move(*home), label, is_home);
}

NetnsSocketFactory::NetnsSocketFactory(UniqueFd target, UniqueFd home, std::string name, bool target_is_home)
    : target_(std::move(target)), home_(std::move(home)), name_(std::move(name)), target_is_home_(target_is_home) {}

namespace {
constexpr const char* kEnterFailure = "setns into network namespace '";
}  // namespace

bool refused_entering(const Error& error) {
  return error.code == EPERM && error.message.rfind(kEnterFailure, 0) == 0;
}

// While alive, the calling thread is inside the factory's namespace; the destructor takes it home, also when an
// exception (an allocation failing while an error is described) leaves the scope early.
class NetnsSocketFactory::Inside {
public:
  explicit Inside(const NetnsSocketFactory& factory) : factory_(factory) {}
  ~Inside() {
    const int saved_errno = errno;
    factory_.return_home();
    errno = saved_errno;
  }
  Inside(const Inside&) = delete;
  Inside& operator=(const Inside&) = delete;

private:
  const NetnsSocketFactory& factory_;
};

Result<UniqueFd> NetnsSocketFactory::socket(int domain, int type, int protocol) const {
  // Allocates nothing on success (the preload shim calls this inside socket(), which may run in a signal handler).
  if (target_is_home_) return raw_socket(domain, type, protocol);
  if (::setns(target_.get(), CLONE_NEWNET) != 0) return last_sys_error(kEnterFailure + name_ + "'");
  Inside inside(*this);
  return raw_socket(domain, type, protocol);
}

void NetnsSocketFactory::return_home() const {
  if (::setns(home_.get(), CLONE_NEWNET) != 0) {
    // Going back into a namespace we hold open cannot fail short of ENOMEM. If it ever did, this thread would
    // silently make every later socket in the wrong namespace: stopping is the only safe answer.
    std::fprintf(stderr, "dmm: cannot return to the home network namespace after creating a socket in '%s'; "
                         "aborting rather than continuing in the wrong namespace\n", name_.c_str());
    std::abort();
  }
}

Result<std::vector<UniqueFd>> NetnsSocketFactory::sockets(int domain, int type, int protocol, int count) const {
  std::vector<UniqueFd> made;
  made.reserve(static_cast<std::size_t>(std::max(count, 0)));
  auto make_all = [&]() -> Status {
    for (int i = 0; i < count; ++i) {
      auto fd = raw_socket(domain, type, protocol);
      if (!fd) return made.empty() ? Status(fd.error()) : Status{};
      made.push_back(std::move(*fd));
    }
    return {};
  };
  if (!target_is_home_) {
    if (::setns(target_.get(), CLONE_NEWNET) != 0) return last_sys_error(kEnterFailure + name_ + "'");
    Inside inside(*this);
    if (Status s = make_all(); !s) return s.error();
    return made;
  }
  if (Status s = make_all(); !s) return s.error();
  return made;
}

}  // namespace dmm::kernel
