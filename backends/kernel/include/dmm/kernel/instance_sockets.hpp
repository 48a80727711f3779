#pragma once
// The sockets of one kernel stack instance: made inside its namespace, with its protocol substitution (TCP
// opened as MPTCP when the instance says `protocol: mptcp`). Needs no event loop, so the preload shim can use
// it (through KernelStack::create_socket or directly) to make the real socket behind an application's fd.
#include <optional>
#include <string>
#include <vector>

#include "dmm/kernel/kernel_stack_config.hpp"
#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"

namespace dmm::kernel {

class InstanceSockets {
public:
  // Opens the namespace (ENOENT / EINVAL as NetnsSocketFactory::open) and, for MPTCP, makes one probe socket
  // there so that a namespace without MPTCP (net.mptcp.enabled = 0) is refused now, not on the first session.
  static Result<InstanceSockets> open(const KernelStackConfig& config);

  // socket(2) in the instance's namespace. With MPTCP, a TCP stream socket (AF_INET/AF_INET6, SOCK_STREAM,
  // protocol 0 or IPPROTO_TCP) becomes IPPROTO_MPTCP; anything else is made as asked. A TCP socket gets the
  // instance's congestion control (an error naming it if the kernel refuses). Thread-safe.
  Result<UniqueFd> socket(int domain, int type, int protocol) const;
  // `count` of them for one pair of namespace switches (NetnsSocketFactory::sockets).
  Result<std::vector<UniqueFd>> sockets(int domain, int type, int protocol, int count) const;
  // The protocol socket() uses for these arguments.
  int substitute_protocol(int domain, int type, int protocol) const;

  bool mptcp() const { return protocol_ == KernelProtocol::mptcp; }
  // The namespace socket() switches the calling thread into and the one it returns it to; -1 when the instance
  // is the caller's own namespace (no switch).
  int netns_fd() const { return netns_ ? netns_->netns_fd() : -1; }
  int home_netns_fd() const { return netns_ ? netns_->home_fd() : -1; }

private:
  InstanceSockets(std::optional<NetnsSocketFactory> netns, KernelProtocol protocol, std::optional<std::string> congestion)
      : netns_(std::move(netns)), protocol_(protocol), congestion_(std::move(congestion)) {}
  Status set_congestion(int fd, int domain, int type, int protocol) const;

  std::optional<NetnsSocketFactory> netns_;  // absent: the calling thread's namespace
  KernelProtocol protocol_;
  std::optional<std::string> congestion_;
};

}  // namespace dmm::kernel
