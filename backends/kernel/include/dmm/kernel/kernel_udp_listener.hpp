#pragma once
// A bound kernel UDP socket that turns each new datagram source into a KernelUdpPeerConnection (on_accept), then
// feeds that session every later datagram from the same source.
#include <memory>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/kernel_udp_peer_connection.hpp"
#include "dmm/stack.hpp"

namespace dmm::kernel {

class KernelUdpListener final : public Listener {
public:
  // `fd` is a non-blocking, bound UDP socket.
  static Result<std::unique_ptr<KernelUdpListener>> create(UniqueFd fd, EpollExecutor& executor, AcceptEvents& events);
  ~KernelUdpListener() override;  // close()
  KernelUdpListener(const KernelUdpListener&) = delete;
  KernelUdpListener& operator=(const KernelUdpListener&) = delete;

  // Closes the socket: sessions already accepted keep what they hold, but cannot send.
  void close() override;
  int fd() const { return share_->fd.get(); }

private:
  KernelUdpListener(std::shared_ptr<KernelUdpShare> share, EpollExecutor& executor, AcceptEvents& events)
      : share_(std::move(share)), executor_(executor), events_(events) {}
  void on_io();

  std::shared_ptr<KernelUdpShare> share_;
  EpollExecutor& executor_;
  AcceptEvents& events_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace dmm::kernel
