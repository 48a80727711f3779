// The calls that make a destination known: connect, sendto/sendmsg/sendmmsg with an address, listen, and bind of
// a UDP server port. Each decides (placement.hpp) for a pending socket and then makes the real call.
#include <sys/socket.h>

#include <cerrno>

#include "export.hpp"
#include "fd_bookkeeping.hpp"
#include "placement.hpp"
#include "real_calls.hpp"

using namespace dmm::preload;

DMM_INTERPOSE int connect(int fd, const sockaddr* address, socklen_t length) {
  return decide_then_call(fd, address, length, Trigger::connect,
                          [&] { return real().connect(fd, address, length); });
}

DMM_INTERPOSE ssize_t sendto(int fd, const void* buffer, size_t size, int flags, const sockaddr* address,
                             socklen_t length) {
  // No address: a connected socket (or EDESTADDRREQ); its stack is already chosen.
  if (!address) return real().sendto(fd, buffer, size, flags, address, length);
  return decide_then_call(fd, address, length, Trigger::sendto,
                          [&] { return real().sendto(fd, buffer, size, flags, address, length); });
}

DMM_INTERPOSE ssize_t sendmsg(int fd, const msghdr* message, int flags) {
  if (!message || !message->msg_name) return real().sendmsg(fd, message, flags);
  return decide_then_call(fd, static_cast<const sockaddr*>(message->msg_name), message->msg_namelen,
                          Trigger::sendmsg, [&] { return real().sendmsg(fd, message, flags); });
}

DMM_INTERPOSE int sendmmsg(int fd, mmsghdr* messages, unsigned int count, int flags) {
  // One socket, one stack: the first message's destination decides for the socket.
  if (!messages || count == 0 || !messages[0].msg_hdr.msg_name) return real().sendmmsg(fd, messages, count, flags);
  return decide_then_call(fd, static_cast<const sockaddr*>(messages[0].msg_hdr.msg_name),
                          messages[0].msg_hdr.msg_namelen, Trigger::sendmmsg,
                          [&] { return real().sendmmsg(fd, messages, count, flags); });
}

DMM_INTERPOSE int listen(int fd, int backlog) __THROW {
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
                          [&] { return real().listen(fd, backlog); });
}

DMM_INTERPOSE int bind(int fd, const sockaddr* address, socklen_t length) __THROW {
  // Only a UDP socket bound to a fixed port decides here (placement.cpp says why); everything else binds the
  // placeholder, and the bound address is replayed if the socket later moves.
  int result =
      decide_then_call(fd, address, length, Trigger::bind, [&] { return real().bind(fd, address, length); });
  if (result != 0 && move_predicted_placeholder_home(fd)) result = real().bind(fd, address, length);
  if (result == 0 && active_shim() && !inside_shim()) {
    const int saved_errno = errno;
    note_bound(fd);
    errno = saved_errno;
  }
  return result;
}
