#include "dmm/kernel/kernel_tcp_listener.hpp"

#include <sys/socket.h>

#include "dmm/kernel/kernel_connection.hpp"
#include "dmm/kernel/socket_address.hpp"
#include "dmm/kernel/sys_error.hpp"

namespace dmm::kernel {
namespace {

// Accepts per readiness event before yielding to the rest of the loop; the listener is level-triggered, so
// what is left is reported again on the next turn.
constexpr int kAcceptBurst = 64;

}  // namespace

Result<Endpoint> local_endpoint_of(int fd) {
  SocketAddress address;
  address.length = sizeof address.storage;
  if (::getsockname(fd, address.get(), &address.length) != 0) return last_sys_error("getsockname");
  return to_endpoint(address.get(), address.length);
}

Result<std::unique_ptr<KernelTcpListener>> KernelTcpListener::create(UniqueFd fd, EpollExecutor& executor,
                                                                     AcceptEvents& events) {
  std::unique_ptr<KernelTcpListener> listener(new KernelTcpListener(std::move(fd), executor, events));
  KernelTcpListener* self = listener.get();
  if (Status s = executor.watch(self->fd_.get(), EPOLLIN, [self](std::uint32_t) { self->on_io(); }); !s)
    return s.error();
  return listener;
}

KernelTcpListener::~KernelTcpListener() { close(); }

void KernelTcpListener::close() {
  if (!fd_) return;
  executor_.unwatch(fd_.get());
  fd_.reset();
}

std::optional<Endpoint> KernelTcpListener::local_endpoint() const {
  if (!fd_) return std::nullopt;
  auto bound = local_endpoint_of(fd_.get());
  if (!bound) return std::nullopt;
  return *bound;
}

void KernelTcpListener::on_io() {
  const std::weak_ptr<bool> alive = alive_;
  for (int i = 0; i < kAcceptBurst && fd_; ++i) {
    UniqueFd accepted(::accept4(fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    // EAGAIN: drained. Anything else (a connection reset while queued, EMFILE) ends this burst; a queued
    // connection is retried on the next readiness report.
    if (!accepted) return;
    auto connection = KernelConnection::create(std::move(accepted), L4Proto::tcp, KernelConnection::Start::accepted,
                                               executor_, nullptr);
    if (!connection) continue;  // the executor could not watch it: dropping the fd resets the peer
    events_.on_accept(std::move(*connection));
    if (alive.expired()) return;  // closed and destroyed inside on_accept
  }
}

}  // namespace dmm::kernel
