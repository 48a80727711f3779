#pragma once
// libc's own socket calls, found with dlsym(RTLD_NEXT): the shim's wrappers do their bookkeeping and then call
// these. Never call the plain names from inside the shim for fds it manages: they resolve to the wrappers.
#include <sys/socket.h>
#include <sys/types.h>

namespace dmm::preload {

struct RealCalls {
  int (*socket)(int, int, int);
  int (*connect)(int, const sockaddr*, socklen_t);
  int (*bind)(int, const sockaddr*, socklen_t);
  int (*listen)(int, int);
  int (*accept)(int, sockaddr*, socklen_t*);
  int (*accept4)(int, sockaddr*, socklen_t*, int);
  int (*close)(int);
  int (*shutdown)(int, int);
  int (*dup)(int);
  int (*dup2)(int, int);
  int (*dup3)(int, int, int);
  int (*fcntl)(int, int, ...);
  int (*fcntl64)(int, int, ...);  // may be null (glibc < 2.28); the wrapper then uses fcntl
  int (*setsockopt)(int, int, int, const void*, socklen_t);
  int (*getsockopt)(int, int, int, void*, socklen_t*);
  ssize_t (*sendto)(int, const void*, size_t, int, const sockaddr*, socklen_t);
  ssize_t (*sendmsg)(int, const msghdr*, int);
  int (*sendmmsg)(int, mmsghdr*, unsigned int, int);
};

// Resolved on first use and eagerly by the shim's constructor, so that wrappers running later (also in signal
// handlers, where dlsym is not safe) only read pointers. Resolution is idempotent: racing threads store the same
// values.
const RealCalls& real();

}  // namespace dmm::preload
