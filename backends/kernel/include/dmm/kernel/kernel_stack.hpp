#pragma once
// The Linux kernel as a stack kind (`kernel`): an instance is a network namespace (or the caller's own), and its
// sessions are ordinary non-blocking kernel sockets created inside that namespace, driven by an EpollExecutor.
// With `protocol: mptcp`, TCP sessions are opened as IPPROTO_MPTCP, so the instance's paths can carry one
// session together while the application still asks for TCP.
#include <memory>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/instance_sockets.hpp"
#include "dmm/kernel/kernel_stack_config.hpp"
#include "dmm/stack.hpp"

namespace dmm::kernel {

class KernelStack final : public Stack {
public:
  // Opens the namespace and checks MPTCP there (see InstanceSockets::open). Errors name the instance.
  static Result<std::unique_ptr<KernelStack>> create(KernelStackConfig config, EpollExecutor& executor);

  const StackInfo& info() const override { return info_; }
  // Immediate errors are connect(2)'s own: ENETUNREACH (no route in the namespace), EAFNOSUPPORT, ... and
  // socket(2)'s. Then on_connected, or on_failed with ECONNREFUSED / ETIMEDOUT / EHOSTUNREACH; later
  // ECONNRESET / ETIMEDOUT. UDP "connects" at once (on_connected follows, never inside this call).
  Result<std::unique_ptr<Connection>> connect(const Endpoint& to, L4Proto proto, ConnectionEvents& events) override;
  // Binds `on` (address and port; the unspecified address = every address of the namespace) with SO_REUSEADDR.
  Result<std::unique_ptr<Listener>> listen(const Endpoint& on, L4Proto proto, AcceptEvents& events) override;

  // A raw socket in this instance's namespace, with the MPTCP substitution; the caller owns the fd. For the
  // preload shim, which gives the application real kernel fds and needs DMM only to make them in the right
  // place. Thread-safe (any thread of the home namespace; see NetnsSocketFactory).
  Result<int> create_socket(int domain, int type, int protocol) const;

  const KernelStackConfig& config() const { return config_; }
  const InstanceSockets& sockets() const { return sockets_; }

private:
  KernelStack(KernelStackConfig config, InstanceSockets sockets, EpollExecutor& executor);

  KernelStackConfig config_;
  StackInfo info_;
  InstanceSockets sockets_;
  EpollExecutor& executor_;
};

}  // namespace dmm::kernel
