#include "socket_sources.hpp"

#include <unistd.h>

#include "shim_guard.hpp"
#include "shim_state.hpp"

namespace dmm::preload {
namespace {

// dmm-stackd is not there (or not itself): a path that does not exist for this process, not the program's fault.
bool unreachable(int code) {
  return code == ENOENT || code == ECONNREFUSED || code == ETIMEDOUT || code == EPIPE || code == ECONNRESET ||
         code == EPROTO || code == EPROTONOSUPPORT || code == EPROTOTYPE || code == EWOULDBLOCK;
}

std::string uid_text() { return "uid " + std::to_string(::geteuid()); }

}  // namespace

Result<std::vector<kernel::UniqueFd>> SocketSources::by_setns(const ShimStack& stack, int domain, int type,
                                                              int protocol, int count) {
  SwitchingNamespace switching(stack.sockets->home_netns_fd());
  auto made = stack.sockets->sockets(domain, type, protocol, count);
  // Not allowed to enter the namespace (CAP_SYS_ADMIN gone): it will not come back in this process.
  if (!made && made.error().code == EPERM) setns_refused_.store(true, std::memory_order_relaxed);
  return made;
}

Result<std::vector<kernel::UniqueFd>> SocketSources::by_service(const ShimStack& stack, int domain, int type,
                                                                int protocol, int count) {
  auto served = service_->sockets(stack.name, domain, type, protocol, count);
  if (served) return served;
  const int code = served.error().code;
  // A service that is not there leaves the stack without a path from this process (ENETUNREACH, not the ENOENT of
  // a socket file, which reads as nonsense in a program's log); a refusal stays one (EACCES: this uid may not).
  return make_error(unreachable(code) ? ENETUNREACH : code, served.error().message);
}

Result<std::vector<kernel::UniqueFd>> SocketSources::make(const ShimStack& stack, int domain, int type, int protocol,
                                                          int count) {
  if (!stack.sockets) return make_error(ENETUNREACH, stack.unusable_reason);
  // The program's own namespace (an MPTCP instance there): no switch, nothing to ask.
  if (!stack.in_other_namespace()) return stack.sockets->sockets(domain, type, protocol, count);
  const std::string uid = uid_text();
  if (service_ && !service_down_.load(std::memory_order_relaxed)) {
    auto served = by_service(stack, domain, type, protocol, count);
    if (served) return served;
    if (served.error().code == ENETUNREACH && !setns_refused()) {
      // Not answering. A process that may make its own does, from now on (new processes try the service again).
      auto made = by_setns(stack, domain, type, protocol, count);
      if (made) {
        if (!service_down_.exchange(true, std::memory_order_relaxed))
          warn(served.error().message + "; this process makes its sockets of other namespaces itself (setns)");
        return made;
      }
      if (!setns_refused()) return made;
    }
    const std::string how = setns_refused() ? " may not enter its namespace, so its sockets come from dmm-stackd; "
                                            : " gets its sockets from dmm-stackd; ";
    return make_error(served.error().code, "stack '" + stack.name + "': " + uid + how + served.error().message);
  }
  if (!setns_refused()) {
    auto made = by_setns(stack, domain, type, protocol, count);
    if (made || !setns_refused()) return made;
  }
  if (!service_)
    return make_error(ENETUNREACH, "stack '" + stack.name + "': " + uid +
                                       " may not enter its namespace (setns: Operation not permitted); a process that "
                                       "dropped root gets sockets of kernel instances in other namespaces from "
                                       "dmm-stackd: name it in the host config, `service: {socket: PATH}`, and run it");
  // The service was found down earlier by this process while it could still make its own; now it cannot.
  auto served = by_service(stack, domain, type, protocol, count);
  if (served) return served;
  return make_error(served.error().code, "stack '" + stack.name + "': " + uid +
                                             " may not enter its namespace, so its sockets come from dmm-stackd; " +
                                             served.error().message);
}

}  // namespace dmm::preload
