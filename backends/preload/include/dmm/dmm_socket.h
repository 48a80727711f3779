/* DMM socket options for programs that want to talk to the shim (libdmm_preload.so) directly.
 *
 *   int intent = DMM_INTENT_LATENCY;
 *   setsockopt(fd, SOL_DMM, DMM_INTENT, &intent, sizeof intent);   // before connect/sendto/listen
 *   char stack[64];
 *   if (dmm_socket_stack(fd, stack, sizeof stack) == 0) printf("carried by %s\n", stack);
 *
 * Plain C, no library to link and nothing to resolve: everything goes through getsockopt/setsockopt, which the
 * shim interposes. A program run without the shim links and runs unchanged; the kernel then rejects the unknown
 * level SOL_DMM (EOPNOTSUPP or ENOPROTOOPT), which is how a program tells "no DMM here" from a decision.
 */
#ifndef DMM_DMM_SOCKET_H
#define DMM_DMM_SOCKET_H

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

/* A socket level no kernel protocol uses ("DMM" in ASCII), so without the shim the kernel rejects it. */
#define SOL_DMM 0x444d4d

/* setsockopt(fd, SOL_DMM, DMM_INTENT, &int, sizeof(int)): what the application wants from the stack; an input
 * of the policy decision. Only meaningful before the destination is known (connect, first sendto, listen):
 * afterwards the shim answers EISCONN. getsockopt reads it back. */
#define DMM_INTENT 1
#define DMM_INTENT_DEFAULT 0
#define DMM_INTENT_LATENCY 1
#define DMM_INTENT_THROUGHPUT 2
#define DMM_INTENT_BULK 3

/* getsockopt(fd, SOL_DMM, DMM_STACK, char buf[], &len): the name of the stack instance carrying the socket,
 * NUL-terminated (ERANGE if it does not fit). ENOTCONN while the shim has not decided yet (no destination).
 * For a socket DMM does not manage (no shim, AF_UNIX, pass-through mode, a session no policy rule covers) the
 * answer is the kernel's own for an unknown level: EOPNOTSUPP for IPv4/IPv6 sockets, ENOPROTOOPT for others. */
#define DMM_STACK 2

/* The name of the stack instance carrying `fd`, NUL-terminated, into buf[len]. 0 on success, -1 with errno
 * (see DMM_STACK) otherwise. */
static inline int dmm_socket_stack(int fd, char* buf, size_t len) {
  socklen_t optlen = (socklen_t)len;
  if (buf == NULL || len == 0) {
    errno = EINVAL;
    return -1;
  }
  return getsockopt(fd, SOL_DMM, DMM_STACK, buf, &optlen) == 0 ? 0 : -1;
}

#endif /* DMM_DMM_SOCKET_H */
