#include "dmm/kernel/kernel_udp_listener.hpp"

#include <sys/socket.h>

#include <vector>

#include "dmm/kernel/kernel_connection.hpp"
#include "dmm/kernel/socket_address.hpp"

namespace dmm::kernel {
namespace {

// Datagrams read per readiness event before yielding to the rest of the loop (the socket is level-triggered).
constexpr int kReadBurst = 64;
// Bigger than any datagram (64 KiB): a datagram is never truncated on its way into a session's inbox.
constexpr std::size_t kReadBuffer = 65536;

}  // namespace

Result<std::unique_ptr<KernelUdpListener>> KernelUdpListener::create(UniqueFd fd, EpollExecutor& executor,
                                                                     AcceptEvents& events) {
  auto share = std::make_shared<KernelUdpShare>();
  int domain = AF_INET;
  socklen_t length = sizeof domain;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_DOMAIN, &domain, &length);
  share->max_datagram = domain == AF_INET6 ? kMaxUdpPayloadV6 : kMaxUdpPayloadV4;
  share->fd = std::move(fd);
  std::unique_ptr<KernelUdpListener> listener(new KernelUdpListener(std::move(share), executor, events));
  KernelUdpListener* self = listener.get();
  if (Status s = executor.watch(self->fd(), EPOLLIN, [self](std::uint32_t) { self->on_io(); }); !s) return s.error();
  return listener;
}

KernelUdpListener::~KernelUdpListener() { close(); }

void KernelUdpListener::close() {
  if (!share_->fd) return;
  executor_.unwatch(share_->fd.get());
  share_->fd.reset();
}

void KernelUdpListener::on_io() {
  const std::weak_ptr<bool> alive = alive_;
  std::vector<std::byte> buffer(kReadBuffer);
  for (int i = 0; i < kReadBurst && share_->fd; ++i) {
    SocketAddress from;
    from.length = sizeof from.storage;
    const ssize_t n = ::recvfrom(share_->fd.get(), buffer.data(), buffer.size(), MSG_DONTWAIT, from.get(), &from.length);
    if (n < 0) return;  // EAGAIN: drained; an ICMP error reported on the socket concerns no session in particular
    auto peer = to_endpoint(from.get(), from.length);
    if (!peer) continue;
    std::vector<std::byte> datagram(buffer.begin(), buffer.begin() + n);
    const auto known = share_->peers.find(KernelUdpShare::key_of(*peer));
    if (known != share_->peers.end()) {
      known->second->deliver_datagram(std::move(datagram));
    } else {
      auto session = std::make_unique<KernelUdpPeerConnection>(share_, *peer, executor_);
      session->deliver_datagram(std::move(datagram));
      events_.on_accept(std::move(session));
    }
    if (alive.expired()) return;  // closed and destroyed by a callback
  }
}

}  // namespace dmm::kernel
