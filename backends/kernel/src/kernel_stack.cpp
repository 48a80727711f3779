#include "dmm/kernel/kernel_stack.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "dmm/kernel/kernel_connection.hpp"
#include "dmm/kernel/kernel_tcp_listener.hpp"
#include "dmm/kernel/kernel_udp_listener.hpp"
#include "dmm/kernel/socket_address.hpp"
#include "dmm/kernel/sys_error.hpp"

namespace dmm::kernel {
namespace {

int socket_type(L4Proto proto) { return (proto == L4Proto::tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC; }
int socket_protocol(L4Proto proto) { return proto == L4Proto::tcp ? IPPROTO_TCP : IPPROTO_UDP; }

}  // namespace

Result<std::unique_ptr<KernelStack>> KernelStack::create(KernelStackConfig config, EpollExecutor& executor) {
  auto sockets = InstanceSockets::open(config);
  if (!sockets) return sockets.error();
  return std::unique_ptr<KernelStack>(new KernelStack(std::move(config), std::move(*sockets), executor));
}

KernelStack::KernelStack(KernelStackConfig config, InstanceSockets sockets, EpollExecutor& executor)
    : config_(std::move(config)), sockets_(std::move(sockets)), executor_(executor) {
  info_.id = config_.name;
  info_.kind = "kernel";
  info_.capabilities = StackCapabilities{.tcp = true, .udp = true, .ipv6 = true,
                                         .multipath = config_.protocol == KernelProtocol::mptcp};
}

Result<int> KernelStack::create_socket(int domain, int type, int protocol) const {
  auto fd = sockets_.socket(domain, type, protocol);
  if (!fd) return make_error(fd.error().code, "stack '" + info_.id + "': " + fd.error().message);
  return fd->release();
}

Result<std::unique_ptr<Connection>> KernelStack::connect(const Endpoint& to, L4Proto proto, ConnectionEvents& events) {
  auto fd = sockets_.socket(address_family(to.address), socket_type(proto), socket_protocol(proto));
  if (!fd) return make_error(fd.error().code, "stack '" + info_.id + "': " + fd.error().message);
  const SocketAddress peer = to_socket_address(to);
  KernelConnection::Start start = KernelConnection::Start::connected_now;
  if (::connect(fd->get(), peer.get(), peer.length) != 0) {
    const int err = errno;
    if (err != EINPROGRESS) return sys_error(err, "stack '" + info_.id + "': connect to " + to.to_string());
    start = KernelConnection::Start::connecting;
  }
  auto connection = KernelConnection::create(std::move(*fd), proto, start, executor_, &events);
  if (!connection) return connection.error();
  return std::unique_ptr<Connection>(std::move(*connection));
}

Result<std::unique_ptr<Listener>> KernelStack::listen(const Endpoint& on, L4Proto proto, AcceptEvents& events) {
  auto fd = sockets_.socket(address_family(on.address), socket_type(proto), socket_protocol(proto));
  if (!fd) return make_error(fd.error().code, "stack '" + info_.id + "': " + fd.error().message);
  // A restarted server must not wait out TIME_WAIT of its previous run's connections.
  const int one = 1;
  ::setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const SocketAddress local = to_socket_address(on);
  if (::bind(fd->get(), local.get(), local.length) != 0)
    return last_sys_error("stack '" + info_.id + "': bind " + on.to_string());
  if (proto == L4Proto::udp) {
    auto listener = KernelUdpListener::create(std::move(*fd), executor_, events);
    if (!listener) return listener.error();
    return std::unique_ptr<Listener>(std::move(*listener));
  }
  if (::listen(fd->get(), SOMAXCONN) != 0) return last_sys_error("stack '" + info_.id + "': listen on " + on.to_string());
  auto listener = KernelTcpListener::create(std::move(*fd), executor_, events);
  if (!listener) return listener.error();
  return std::unique_ptr<Listener>(std::move(*listener));
}

}  // namespace dmm::kernel
