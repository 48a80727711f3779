#pragma once
// One exact sock_diag lookup (a NETLINK_SOCK_DIAG request for a single socket, not a dump): whether the kernel still
// knows the socket the request describes. The daemon asks it about a listener's name, which nobody connects to, to
// learn that no process holds the program's listener any more. (UDP sessions' sockets are listed all at once:
// DatagramPump::live_sockets.)
#include <cstddef>

namespace dmm::service {

// Sends `request` (an nlmsghdr followed by its family's request) on `diag_fd` and reads the answer: false only
// when the kernel says ENOENT; true when it finds the socket or cannot tell (an error, no answer in time).
bool sock_diag_exists(int diag_fd, const void* request, std::size_t size);

}  // namespace dmm::service
