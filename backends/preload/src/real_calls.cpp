// dlsym(RTLD_NEXT) finds the definition after ours in the lookup order: libc's (or another preloaded wrapper's,
// which then composes with ours as LD_PRELOAD users expect).
#include "real_calls.hpp"

#include <dlfcn.h>

#include <atomic>

namespace dmm::preload {
namespace {

RealCalls g_calls{};
std::atomic<bool> g_resolved{false};

template <typename Fn>
void resolve(Fn& slot, const char* name) {
  slot = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

const RealCalls& real() {
  if (g_resolved.load(std::memory_order_acquire)) return g_calls;
  // Two threads may get here at once; both write identical pointers, so the race is benign. The release store
  // publishes the complete table.
  RealCalls c{};
  resolve(c.socket, "socket");
  resolve(c.connect, "connect");
  resolve(c.bind, "bind");
  resolve(c.listen, "listen");
  resolve(c.accept, "accept");
  resolve(c.accept4, "accept4");
  resolve(c.close, "close");
  resolve(c.shutdown, "shutdown");
  resolve(c.dup, "dup");
  resolve(c.dup2, "dup2");
  resolve(c.dup3, "dup3");
  resolve(c.fcntl, "fcntl");
  resolve(c.fcntl64, "fcntl64");
  resolve(c.setsockopt, "setsockopt");
  resolve(c.getsockopt, "getsockopt");
  resolve(c.sendto, "sendto");
  resolve(c.sendmsg, "sendmsg");
  resolve(c.sendmmsg, "sendmmsg");
  resolve(c.epoll_ctl, "epoll_ctl");
  resolve(c.setuid, "setuid");
  resolve(c.seteuid, "seteuid");
  resolve(c.setreuid, "setreuid");
  resolve(c.setresuid, "setresuid");
  resolve(c.setgid, "setgid");
  resolve(c.setegid, "setegid");
  resolve(c.setregid, "setregid");
  resolve(c.setresgid, "setresgid");
  resolve(c.setgroups, "setgroups");
  resolve(c.read, "read");
  resolve(c.write, "write");
  resolve(c.readv, "readv");
  resolve(c.writev, "writev");
  resolve(c.recv, "recv");
  resolve(c.recvfrom, "recvfrom");
  resolve(c.recvmsg, "recvmsg");
  resolve(c.recvmmsg, "recvmmsg");
  resolve(c.send, "send");
  resolve(c.sendfile, "sendfile");
  resolve(c.sendfile64, "sendfile64");
  resolve(c.getsockname, "getsockname");
  resolve(c.getpeername, "getpeername");
  resolve(c.ioctl, "ioctl");
  resolve(c.read_chk, "__read_chk");
  resolve(c.recv_chk, "__recv_chk");
  resolve(c.recvfrom_chk, "__recvfrom_chk");
  if (!c.fcntl64) c.fcntl64 = c.fcntl;
  g_calls = c;
  g_resolved.store(true, std::memory_order_release);
  return g_calls;
}

}  // namespace dmm::preload
