#include "dmm/service/seqpacket_listener.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/kernel/sys_error.hpp"

namespace dmm::service {
namespace {

using kernel::UniqueFd;

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), std::min(path.size(), sizeof sun.sun_path - 1));
  return sun;
}

// Does something answer at `path`? A file left by a daemon that died refuses connections (ECONNREFUSED); anything
// else — a connection, a listener of another socket type (EPROTOTYPE), a full backlog (EAGAIN) — is alive.
bool someone_listens(const std::string& path) {
  auto fd = kernel::raw_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (!fd) return false;
  const sockaddr_un sun = unix_address(path);
  if (::connect(fd->get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0) return true;
  return errno != ECONNREFUSED && errno != ENOENT;
}

}  // namespace

Result<SeqpacketListener> listen_seqpacket(const std::string& path, mode_t mode, int backlog) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path))
    return make_error(ENAMETOOLONG, "socket path '" + path + "' is empty or longer than " +
                                        std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return make_error(EEXIST, path + " exists and is not a socket; refusing to replace it");
    if (someone_listens(path)) return make_error(EADDRINUSE, path + ": another daemon is listening there");
    if (::unlink(path.c_str()) != 0) return kernel::last_sys_error("unlink stale socket " + path);
  }
  auto fd = kernel::raw_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (!fd) return fd.error();
  const sockaddr_un sun = unix_address(path);
  // Created with no permissions, then given `mode`: never wider than asked, not even between bind and chmod.
  // (umask is process-wide; the daemon binds before anything else runs.)
  const mode_t old_mask = ::umask(0777);
  const int bound = ::bind(fd->get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun);
  const int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0) return kernel::sys_error(bind_errno, "bind " + path);
  if (::chmod(path.c_str(), mode & 0777) != 0 || ::listen(fd->get(), backlog) != 0 || ::stat(path.c_str(), &st) != 0) {
    const Error e = kernel::last_sys_error("listen on " + path);
    ::unlink(path.c_str());
    return e;
  }
  return SeqpacketListener{std::move(*fd), st.st_dev, st.st_ino};
}

void remove_socket_file(const std::string& path, const SeqpacketListener& listener) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && st.st_dev == listener.device && st.st_ino == listener.inode)
    ::unlink(path.c_str());
}

}  // namespace dmm::service
