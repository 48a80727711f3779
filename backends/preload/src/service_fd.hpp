#pragma once
// The program's end of a session that dmm-stackd runs on a user-space instance (FdState::service): a real AF_UNIX
// socket, so the data path needs the shim for nothing. What an AF_UNIX socket answers differently from the TCP or
// UDP socket the program believes it holds is answered here: the session's addresses, SO_ERROR and a second
// connect() (from the daemon's status), SO_DOMAIN/SO_TYPE/SO_PROTOCOL, TCP/IP-level options (accepted and read
// back), a reset read as ECONNRESET. Only TCP sessions are such ends: a UDP session's end is a real UDP socket
// (connected or not, in the instance's datagram namespace of the daemon's), FdState::placed like a kernel instance's.
// After exec the shim's table is gone and the fd is what it is: data still flows; addresses read as AF_UNIX.
#include <sys/socket.h>

#include "fd_table.hpp"

namespace dmm::preload {

// The slot if `fd` is such an end (its record checked against the fd's identity), else nullptr. One fd-table load
// for every other fd.
FdSlot* service_slot(int fd);

// connect() right after the decision put `fd` on the instance: a blocking socket waits (bounded by its
// SO_SNDTIMEO, like a kernel connect) until the handshake is over, then answers 0 or the failure; a non-blocking
// one answers EINPROGRESS.
int service_finish_connect(int fd);
// A later connect() on the same fd: EALREADY while connecting, EISCONN once connected, the failure once.
int service_connect_again(int fd, FdSlot& slot);
int service_getsockopt(int fd, FdSlot& slot, int level, int name, void* value, socklen_t* length);
int service_setsockopt(int fd, FdSlot& slot, int level, int name, const void* value, socklen_t length);
// getsockname (peer = false) and getpeername.
int service_getname(int fd, FdSlot& slot, bool peer, sockaddr* address, socklen_t* length);
// A read on `fd` returned 0: true (errno = ECONNRESET) if the session was reset rather than ended.
bool service_read_reset(int fd);
// A send with an address on such an end: the address goes (an AF_UNIX stream socket refuses one with EISCONN;
// a connected TCP socket ignores it).
bool service_strips_address(int fd);

// accept()/accept4() returned `fd` from `listener`: if that is a listener of an instance dmm-stackd runs, the
// connection's AcceptedHeader is read off `fd` (it precedes the data; waited for briefly, the daemon writes it
// as it connects), `fd` becomes a session end (FdState::service) with the session's addresses, and `address`
// gets the peer's. Returns `fd`, or -1 (ECONNABORTED, fd closed) if the header is not there; other fds: `fd`
// untouched, false in `handled`.
// `capacity`: the size of the program's address buffer (the kernel has set *length to the AF_UNIX peer's).
int service_after_accept(int listener, int fd, sockaddr* address, socklen_t* length, socklen_t capacity,
                         bool& handled);

// Fills a sockaddr of the program's with `e`, truncating as the kernel does; *length gets the full size.
void put_endpoint(const Endpoint& e, sockaddr* address, socklen_t* length);

}  // namespace dmm::preload
