#include "socket_sources.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "shim_guard.hpp"
#include "shim_state.hpp"

namespace dmm::preload {
namespace {

// After dmm-stackd did not answer a process that has no other way, how long its calls fail at once.
constexpr long long kUnreachableMs = 1000;

long long monotonic_ms() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long long>(t.tv_sec) * 1000 + t.tv_nsec / 1'000'000;
}

std::string uid_text() { return "uid " + std::to_string(::geteuid()); }

}  // namespace

Result<std::vector<kernel::UniqueFd>> SocketSources::by_setns(const ShimStack& stack, int domain, int type,
                                                              int protocol, int count) {
  SwitchingNamespace switching(stack.sockets->home_netns_fd());
  auto made = stack.sockets->sockets(domain, type, protocol, count);
  // Not allowed to enter the namespace (CAP_SYS_ADMIN gone): it will not come back in this process. (An EPERM of
  // socket() itself inside the namespace — a security module — is not that.)
  if (!made && kernel::refused_entering(made.error())) setns_refused_.store(true, std::memory_order_relaxed);
  return made;
}

Result<std::vector<kernel::UniqueFd>> SocketSources::by_service(const ShimStack& stack, int domain, int type,
                                                                int protocol, int count) {
  if (setns_refused() && monotonic_ms() < unreachable_until_ms_.load(std::memory_order_relaxed))
    return make_error(ENETUNREACH, "dmm-stackd at " + service_->path() + " did not answer a moment ago");
  ServiceLink::Failure failure = ServiceLink::Failure::none;
  auto served = service_->sockets(stack.name, domain, type, protocol, count, failure);
  if (served) return served;
  if (failure == ServiceLink::Failure::refused) return served.error();  // EACCES, an unknown stack, socket()'s errno
  // Not there (or busy on this very thread): the stack has no path from this process now — ENETUNREACH, not the
  // ENOENT of a socket file, which reads as nonsense in a program's log.
  if (failure == ServiceLink::Failure::unreachable && setns_refused())
    unreachable_until_ms_.store(monotonic_ms() + kUnreachableMs, std::memory_order_relaxed);
  return make_error(ENETUNREACH, served.error().message);
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

int SocketSources::make_for_socket_call(const ShimStack& stack, int domain, int type, int protocol) noexcept {
  if (!stack.sockets || !stack.in_other_namespace() || from_service() || setns_refused()) return -1;
  try {
    SwitchingNamespace switching(stack.sockets->home_netns_fd());
    Result<kernel::UniqueFd> made = stack.sockets->socket(domain, type, protocol);  // no allocation on success
    if (made) return made->release();
    if (kernel::refused_entering(made.error())) setns_refused_.store(true, std::memory_order_relaxed);
  } catch (...) {
    // Out of memory describing a failure: the placeholder is made at home, as without a prediction.
  }
  return -1;
}

}  // namespace dmm::preload
