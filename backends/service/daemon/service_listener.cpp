#include "service_listener.hpp"

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "dmm/kernel/sys_error.hpp"
#include "dmm/service/messages.hpp"
#include "sock_diag.hpp"

namespace dmm::service {
namespace {

using kernel::UniqueFd;

sockaddr_un abstract_address(const std::string& name, socklen_t& length) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  a.sun_path[0] = '\0';
  std::memcpy(a.sun_path + 1, name.data(), name.size());
  length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return a;
}

}  // namespace

Result<std::unique_ptr<ServiceListener>> ServiceListener::open(std::uint64_t id, Stack& stack, const Endpoint& local,
                                                               bool nonblocking, bool v6only, Accepted accepted) {
  std::unique_ptr<ServiceListener> l(new ServiceListener());
  l->accepted_ = std::move(accepted);
  l->name_ = "dmm-stackd/" + std::to_string(::getpid()) + "/listener/" + std::to_string(id);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0));
  if (!fd) return kernel::last_sys_error("socket");
  socklen_t length = 0;
  const sockaddr_un address = abstract_address(l->name_, length);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0)
    return kernel::last_sys_error("bind the listener's name");
  if (::listen(fd.get(), SOMAXCONN) != 0) return kernel::last_sys_error("listen");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return kernel::last_sys_error("fstat");
  l->inode_ = st.st_ino;
  auto listener = stack.listen(local, L4Proto::tcp, *l, Stack::ListenOptions{v6only});
  if (!listener) return listener.error();
  l->listener_ = std::move(*listener);
  l->local_ = local;
  // Port 0: the one the instance picked, which the program's getsockname reports.
  if (auto bound = l->listener_->local_endpoint()) l->local_.port = bound->port;
  l->program_ = std::move(fd);
  return l;
}

ServiceListener::~ServiceListener() { close(); }

void ServiceListener::close() {
  if (closed_) return;
  closed_ = true;
  if (listener_) listener_->close();
}

void ServiceListener::on_accept(std::unique_ptr<Connection> connection) {
  if (closed_) {
    connection->close();
    return;
  }
  UniqueFd ours(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  socklen_t length = 0;
  const sockaddr_un address = abstract_address(name_, length);
  if (!ours || ::connect(ours.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    // ECONNREFUSED: the program has closed its listener; EAGAIN: its backlog is full (a connection the kernel
    // would also have refused). Either way this connection goes.
    const bool gone = errno == ECONNREFUSED || errno == ENOENT;
    connection->close();
    if (gone) close();
    return;
  }
  AcceptedHeader header;
  header.session = next_session_id ? next_session_id() : 0;
  if (auto peer = connection->remote_endpoint()) header.peer = *peer;
  if (auto mine = connection->local_endpoint()) header.local = *mine;
  const std::string bytes = encode_accepted_header(header);
  if (::send(ours.get(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL) !=
      static_cast<ssize_t>(bytes.size())) {
    connection->close();
    return;
  }
  accepted_(header.session, std::move(connection), std::move(ours));
}

bool unix_socket_exists(int diag_fd, ino_t ino) {
  struct {
    nlmsghdr header;
    unix_diag_req request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;
  message.request.sdiag_family = AF_UNIX;
  message.request.udiag_states = ~0u;
  message.request.udiag_ino = static_cast<__u32>(ino);
  message.request.udiag_cookie[0] = ~0u;  // INET_DIAG_NOCOOKIE: by inode alone
  message.request.udiag_cookie[1] = ~0u;
  return sock_diag_exists(diag_fd, &message, sizeof message);
}

}  // namespace dmm::service
