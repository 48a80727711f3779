#pragma once
// A listening kernel TCP (or MPTCP) socket: every connection it accepts becomes a KernelConnection handed to
// AcceptEvents::on_accept, whose receiver calls set_events on it.
#include <optional>
#include <memory>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/stack.hpp"

namespace dmm::kernel {

class KernelTcpListener final : public Listener {
public:
  // `fd` is non-blocking, bound and listening.
  static Result<std::unique_ptr<KernelTcpListener>> create(UniqueFd fd, EpollExecutor& executor, AcceptEvents& events);
  ~KernelTcpListener() override;  // close()
  KernelTcpListener(const KernelTcpListener&) = delete;
  KernelTcpListener& operator=(const KernelTcpListener&) = delete;

  // Stops listening; connections still in the accept queue are reset by the kernel.
  void close() override;
  int fd() const { return fd_.get(); }
  std::optional<Endpoint> local_endpoint() const override;  // the bound address (the kernel's port for port 0)

private:
  KernelTcpListener(UniqueFd fd, EpollExecutor& executor, AcceptEvents& events)
      : fd_(std::move(fd)), executor_(executor), events_(events) {}
  void on_io();

  UniqueFd fd_;
  EpollExecutor& executor_;
  AcceptEvents& events_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // expires with this object; guards on_accept
};

// getsockname(2) as an Endpoint.
Result<Endpoint> local_endpoint_of(int fd);

}  // namespace dmm::kernel
