#include "dmm/kernel/instance_sockets.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "dmm/kernel/sys_error.hpp"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262  // glibc < 2.32 headers; the kernel has had it since 5.6
#endif

namespace dmm::kernel {
namespace {

// The kernel's SOCK_TYPE_MASK: the type without SOCK_NONBLOCK / SOCK_CLOEXEC.
constexpr int kSockTypeMask = 0xf;

}  // namespace

Result<InstanceSockets> InstanceSockets::open(const KernelStackConfig& config) {
  std::optional<NetnsSocketFactory> netns;
  if (config.netns) {
    auto opened = NetnsSocketFactory::open(*config.netns);
    if (!opened) return make_error(opened.error().code, "stack '" + config.name + "': " + opened.error().message);
    netns.emplace(std::move(*opened));
  }
  InstanceSockets sockets(std::move(netns), config.protocol, config.congestion);
  if (sockets.mptcp()) {
    auto probe = sockets.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (!probe) {
      const std::string where = config.netns ? "network namespace '" + *config.netns + "'" : "this namespace";
      return make_error(probe.error().code, "stack '" + config.name + "': MPTCP is not available in " + where +
                                                " (is net.mptcp.enabled 0 there?): " + probe.error().message);
    }
  }
  return sockets;
}

int InstanceSockets::substitute_protocol(int domain, int type, int protocol) const {
  const bool tcp_stream = (domain == AF_INET || domain == AF_INET6) && (type & kSockTypeMask) == SOCK_STREAM &&
                          (protocol == 0 || protocol == IPPROTO_TCP);
  return mptcp() && tcp_stream ? IPPROTO_MPTCP : protocol;
}

Status InstanceSockets::set_congestion(int fd, int domain, int type, int protocol) const {
  const bool tcp = (domain == AF_INET || domain == AF_INET6) && (type & kSockTypeMask) == SOCK_STREAM &&
                   (protocol == 0 || protocol == IPPROTO_TCP);
  if (!congestion_ || !tcp || mptcp()) return {};
  if (::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, congestion_->data(), static_cast<socklen_t>(congestion_->size())) != 0)
    return last_sys_error("TCP congestion control " + *congestion_);
  return {};
}

Result<UniqueFd> InstanceSockets::socket(int domain, int type, int protocol) const {
  const int actual = substitute_protocol(domain, type, protocol);
  auto fd = netns_ ? netns_->socket(domain, type, actual) : raw_socket(domain, type, actual);
  if (fd)
    if (auto st = set_congestion(fd->get(), domain, type, protocol); !st) return st.error();
  return fd;
}

Result<std::vector<UniqueFd>> InstanceSockets::sockets(int domain, int type, int protocol, int count) const {
  const int actual = substitute_protocol(domain, type, protocol);
  if (netns_) {
    auto made = netns_->sockets(domain, type, actual, count);
    if (made)
      for (const auto& fd : *made)
        if (auto st = set_congestion(fd.get(), domain, type, protocol); !st) return st.error();
    return made;
  }
  std::vector<UniqueFd> made;
  for (int i = 0; i < count; ++i) {
    auto fd = raw_socket(domain, type, actual);
    if (fd)
      if (auto st = set_congestion(fd->get(), domain, type, protocol); !st) return st.error();
    if (!fd) {
      if (made.empty()) return fd.error();
      break;
    }
    made.push_back(std::move(*fd));
  }
  return made;
}

}  // namespace dmm::kernel
