// The calls that make a destination known: connect, sendto/sendmsg/sendmmsg with an address, listen, and bind of
// a UDP server port. Each decides (placement.hpp) for a pending socket and then makes the real call — or, when a
// user-space stack took the socket, the same call on its UserSession.
#include <sys/socket.h>

#include <cerrno>

#include "connect_race.hpp"
#include "export.hpp"
#include "fd_bookkeeping.hpp"
#include "placement.hpp"
#include "real_calls.hpp"
#include "service_fd.hpp"
#include "user_fd.hpp"

using namespace dmm::preload;

namespace {

int fail(int err) {
  errno = err;
  return -1;
}

ssize_t send_on(UserSession& s, int fd, const void* buffer, size_t size, int flags) {
  const iovec iov{const_cast<void*>(buffer), size};
  return s.send(fd, &iov, 1, flags);
}

ssize_t sendmsg_on(UserSession& s, int fd, const msghdr* message, int flags) {
  return s.send(fd, message->msg_iov, static_cast<int>(message->msg_iovlen), flags);
}

// On the program's end of a dmm-stackd session the destination is the session's: the address goes (an AF_UNIX
// socket would refuse it).
ssize_t sendmsg_without_address(int fd, const msghdr* message, int flags) {
  msghdr bare = *message;
  bare.msg_name = nullptr;
  bare.msg_namelen = 0;
  return real().sendmsg(fd, &bare, flags);
}

int sendmmsg_without_addresses(int fd, mmsghdr* messages, unsigned int count, int flags) {
  unsigned int sent = 0;
  for (; sent < count; ++sent) {
    const ssize_t n = sendmsg_without_address(fd, &messages[sent].msg_hdr, flags);
    if (n < 0) return sent > 0 ? static_cast<int>(sent) : -1;
    messages[sent].msg_len = static_cast<unsigned int>(n);
  }
  return static_cast<int>(sent);
}

// A user-space session only connects (listeners stay on kernel stacks): listen and bind never reach one.
int refused(UserSession&) { return fail(EOPNOTSUPP); }

}  // namespace

DMM_INTERPOSE int connect(int fd, const sockaddr* address, socklen_t length) {
  // Again on a blocking socket whose connect is still raced (after EINTR): wait for that race (a user session's
  // too: its own connect_again would wait for the first attempt alone).
  if (int again = 0; races_running() > 0 && race_connect_again(fd, again)) return again;
  if (UserFd u = user_fd(fd)) {
    // Connected already (or connecting): what a kernel socket answers to a second connect.
    if (u.foreign) return fail(foreign_user_fd_error());
    if (u.session->proto() == dmm::L4Proto::udp) return 0;
    return u.session->connect_again(fd);
  }
  if (FdSlot* slot = service_slot(fd)) return service_connect_again(fd, *slot);
  return decide_then_call(fd, address, length, Trigger::connect,
                          [&] { return real().connect(fd, address, length); },
                          [&](UserSession& s) { return s.finish_connect(fd); },
                          [&] { return service_finish_connect(fd); });
}

DMM_INTERPOSE ssize_t sendto(int fd, const void* buffer, size_t size, int flags, const sockaddr* address,
                             socklen_t length) {
  // A session's own destination is fixed (a user-space session carries one peer): the address is not looked at.
  if (UserFd u = user_fd(fd)) {
    if (u.foreign) return fail(foreign_user_fd_error());
    return send_on(*u.session, fd, buffer, size, flags);
  }
  // No address: a connected socket (or EDESTADDRREQ); its stack is already chosen.
  if (!address) return real().sendto(fd, buffer, size, flags, address, length);
  if (service_strips_address(fd)) return real().send(fd, buffer, size, flags);
  return decide_then_call(fd, address, length, Trigger::sendto,
                          [&] { return real().sendto(fd, buffer, size, flags, address, length); },
                          [&](UserSession& s) { return send_on(s, fd, buffer, size, flags); },
                          [&] { return real().send(fd, buffer, size, flags); });
}

DMM_INTERPOSE ssize_t sendmsg(int fd, const msghdr* message, int flags) {
  if (UserFd u = user_fd(fd)) {
    if (u.foreign) return fail(foreign_user_fd_error());
    if (!message) return fail(EFAULT);
    return sendmsg_on(*u.session, fd, message, flags);
  }
  if (!message || !message->msg_name) return real().sendmsg(fd, message, flags);
  if (service_strips_address(fd)) return sendmsg_without_address(fd, message, flags);
  return decide_then_call(fd, static_cast<const sockaddr*>(message->msg_name), message->msg_namelen,
                          Trigger::sendmsg, [&] { return real().sendmsg(fd, message, flags); },
                          [&](UserSession& s) { return sendmsg_on(s, fd, message, flags); },
                          [&] { return sendmsg_without_address(fd, message, flags); });
}

DMM_INTERPOSE int sendmmsg(int fd, mmsghdr* messages, unsigned int count, int flags) {
  auto each_on = [&](UserSession& s) -> int {
    unsigned int sent = 0;
    for (; sent < count; ++sent) {
      const ssize_t n = sendmsg_on(s, fd, &messages[sent].msg_hdr, flags);
      if (n < 0) return sent > 0 ? static_cast<int>(sent) : -1;
      messages[sent].msg_len = static_cast<unsigned int>(n);
    }
    return static_cast<int>(sent);
  };
  if (UserFd u = user_fd(fd)) {
    if (u.foreign) return fail(foreign_user_fd_error());
    if (!messages) return fail(EFAULT);
    return each_on(*u.session);
  }
  // One socket, one stack: the first message's destination decides for the socket.
  if (!messages || count == 0 || !messages[0].msg_hdr.msg_name) return real().sendmmsg(fd, messages, count, flags);
  if (service_strips_address(fd)) return sendmmsg_without_addresses(fd, messages, count, flags);
  return decide_then_call(fd, static_cast<const sockaddr*>(messages[0].msg_hdr.msg_name),
                          messages[0].msg_hdr.msg_namelen, Trigger::sendmmsg,
                          [&] { return real().sendmmsg(fd, messages, count, flags); }, each_on,
                          [&] { return sendmmsg_without_addresses(fd, messages, count, flags); });
}

DMM_INTERPOSE int listen(int fd, int backlog) __THROW {
  if (FdSlot* slot = service_slot(fd)) return slot->record.service_listener ? 0 : fail(EINVAL);  // listening already
  if (user_fd(fd)) return fail(EINVAL);  // a connected socket, as the kernel says
  if (!slot_needing_decision(fd)) return real().listen(fd, backlog);
  // Sessions will arrive at the local address: that is what a rule's `dst` matches for a listener. Unbound
  // (listen picks a port): the any address of the socket's family.
  BoundAddress local = bound_address_of(fd);
  if (!local.bound()) {
    socklen_t len = sizeof local.storage;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local.storage), &len) != 0) return real().listen(fd, backlog);
    local.length = len;
  }
  return decide_then_call(fd, reinterpret_cast<const sockaddr*>(&local.storage), local.length, Trigger::listen,
                          [&] { return real().listen(fd, backlog); }, refused, [] { return 0; });
}

DMM_INTERPOSE int bind(int fd, const sockaddr* address, socklen_t length) __THROW {
  if (user_fd(fd) || service_slot(fd)) return fail(EINVAL);  // bound already, as the kernel says of a connected socket
  // Only a UDP socket bound to a fixed port decides here (placement.cpp says why); everything else binds the
  // placeholder, and the bound address is replayed if the socket later moves.
  // A UDP server port on an instance dmm-stackd runs comes bound already: nothing is left to do.
  int result = decide_then_call(fd, address, length, Trigger::bind,
                                [&] { return real().bind(fd, address, length); }, refused, [] { return 0; });
  if (result != 0 && move_predicted_placeholder_home(fd)) result = real().bind(fd, address, length);
  if (result == 0 && active_shim() && !inside_shim()) {
    const int saved_errno = errno;
    note_bound(fd);
    errno = saved_errno;
  }
  return result;
}
