#include "sock_diag.hpp"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>

namespace dmm::service {

bool sock_diag_exists(int diag_fd, const void* request, std::size_t size) {
  if (::send(diag_fd, request, size, 0) != static_cast<ssize_t>(size)) return true;
  alignas(nlmsghdr) char answer[4096];
  const ssize_t n = ::recv(diag_fd, answer, sizeof answer, 0);
  if (n < static_cast<ssize_t>(sizeof(nlmsghdr))) return true;
  const auto* h = reinterpret_cast<const nlmsghdr*>(answer);
  if (h->nlmsg_type == NLMSG_ERROR) return reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(h))->error != -ENOENT;
  return true;  // SOCK_DIAG_BY_FAMILY: the socket is there
}

}  // namespace dmm::service
