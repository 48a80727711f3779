#include "dmm/service/seqpacket.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "dmm/kernel/sys_error.hpp"
#include "dmm/service/messages.hpp"

namespace dmm::service {
namespace {

// Room for kMaxSocketsPerRequest descriptors, aligned for cmsghdr; both sides never pass more.
constexpr std::size_t kMaxControl = CMSG_SPACE(sizeof(int) * kMaxSocketsPerRequest);

}  // namespace

Status send_message(int fd, std::string_view bytes, std::span<const int> fds, int flags) {
  if (fds.size() > static_cast<std::size_t>(kMaxSocketsPerRequest))
    return make_error(EINVAL, "more than " + std::to_string(kMaxSocketsPerRequest) + " descriptors in one message");
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[kMaxControl];
  if (!fds.empty()) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    const ssize_t n = ::sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
    if (n >= 0) return {};  // a datagram goes whole or not at all
    if (errno != EINTR) return kernel::last_sys_error("sendmsg");
  }
}

Result<Received> receive_message(int fd, std::size_t max_bytes, std::size_t max_fds, int flags) {
  if (max_fds > static_cast<std::size_t>(kMaxSocketsPerRequest))
    return make_error(EINVAL, "more than " + std::to_string(kMaxSocketsPerRequest) + " descriptors asked for");
  Received out;
  out.bytes.resize(max_bytes + 1);
  iovec iov{out.bytes.data(), out.bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[kMaxControl];
  // Without a control buffer the kernel drops (closes) any descriptors sent along and flags MSG_CTRUNC: a reader
  // that expects none can never be handed one.
  if (max_fds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * max_fds);
  }
  ssize_t n;
  do {
    n = ::recvmsg(fd, &msg, flags | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return kernel::last_sys_error("recvmsg");
  // Descriptors first: whatever else is wrong, each one that arrived is owned (and closed) by `out`.
  if (msg.msg_controllen > 0) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int passed = -1;
        std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        out.fds.emplace_back(passed);
      }
    }
  }
  out.fds_truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  out.truncated = (msg.msg_flags & MSG_TRUNC) != 0 || static_cast<std::size_t>(n) > max_bytes;
  out.closed = n == 0;
  out.bytes.resize(std::min(static_cast<std::size_t>(n), max_bytes));
  return out;
}

}  // namespace dmm::service
