#include "dmm/nrd/socket_ops.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/kernel/socket_address.hpp"
#include "dmm/kernel/sys_error.hpp"
#include "dmm/kernel/kernel_tcp_listener.hpp"

namespace dmm::nrd {
namespace {

using kernel::last_sys_error;
using kernel::UniqueFd;

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), std::min(path.size(), sizeof sun.sun_path - 1));
  return sun;
}

// raw_socket, not socket(): inside the preload shim, socket() is the shim's own interposer.
Result<UniqueFd> make_socket(int domain) {
  return kernel::raw_socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

// Is a daemon answering at `path`? A file left by one that died refuses connections.
bool someone_listens(const std::string& path) {
  auto fd = kernel::raw_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (!fd) return false;
  const sockaddr_un sun = unix_address(path);
  return ::connect(fd->get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0;
}

Result<UniqueFd> listen_unix(const std::string& path, mode_t mode, int backlog) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return make_error(EEXIST, path + " exists and is not a socket; refusing to replace it");
    if (someone_listens(path)) return make_error(EADDRINUSE, path + ": another daemon is listening there");
    if (::unlink(path.c_str()) != 0) return last_sys_error("unlink stale socket " + path);
  }
  auto fd = make_socket(AF_UNIX);
  if (!fd) return fd.error();
  const sockaddr_un sun = unix_address(path);
  // The file must never exist with wider permissions than asked, not even between bind and chmod: create it with
  // none, then set the mode. (umask is process-wide; the daemon binds before it starts any thread.)
  const mode_t old_mask = ::umask(0777);
  const int bound = ::bind(fd->get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun);
  const int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0) return kernel::sys_error(bind_errno, "bind " + path);
  if (::chmod(path.c_str(), mode & 07777) != 0) {
    const Error e = last_sys_error("chmod " + path);
    ::unlink(path.c_str());
    return e;
  }
  if (::listen(fd->get(), backlog) != 0) {
    const Error e = last_sys_error("listen " + path);
    ::unlink(path.c_str());
    return e;
  }
  return std::move(*fd);
}

Result<UniqueFd> listen_tcp(const Endpoint& endpoint, int backlog) {
  const kernel::SocketAddress sa = kernel::to_socket_address(endpoint);
  auto fd = make_socket(sa.family());
  if (!fd) return fd.error();
  const int one = 1;
  ::setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd->get(), sa.get(), sa.length) != 0) return last_sys_error("bind " + endpoint.to_string());
  if (::listen(fd->get(), backlog) != 0) return last_sys_error("listen " + endpoint.to_string());
  return std::move(*fd);
}

}  // namespace

Result<PendingConnect> start_connect(const NrdAddress& address) {
  if (address.kind == NrdAddress::Kind::unix_socket) {
    auto fd = make_socket(AF_UNIX);
    if (!fd) return fd.error();
    const sockaddr_un sun = unix_address(address.path);
    if (::connect(fd->get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0)
      return PendingConnect{std::move(*fd), false};
    // A Unix connect does not go asynchronous except with a full backlog (EAGAIN): report that as is.
    return last_sys_error("connect " + address.to_string());
  }
  const kernel::SocketAddress sa = kernel::to_socket_address(address.tcp);
  auto fd = make_socket(sa.family());
  if (!fd) return fd.error();
  const int one = 1;
  ::setsockopt(fd->get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd->get(), sa.get(), sa.length) == 0) return PendingConnect{std::move(*fd), false};
  if (errno == EINPROGRESS) return PendingConnect{std::move(*fd), true};
  return last_sys_error("connect " + address.to_string());
}

Result<UniqueFd> listen_on(const NrdAddress& address, mode_t mode, int backlog) {
  if (address.kind == NrdAddress::Kind::unix_socket) return listen_unix(address.path, mode, backlog);
  return listen_tcp(address.tcp, backlog);
}

Result<Endpoint> bound_endpoint(int fd) { return kernel::local_endpoint_of(fd); }

Result<PeerCredentials> peer_credentials(int fd) {
  ucred cred{};
  socklen_t length = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return last_sys_error("SO_PEERCRED");
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

int pending_error(int fd) {
  int err = 0;
  socklen_t length = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &length) != 0) return errno;
  return err;
}

}  // namespace dmm::nrd
