#pragma once
// The decision: when a pending socket's destination becomes known, ask the orchestrator, put the socket on the
// chosen stack (keep the placeholder, or re-create it in the instance's namespace and dup3 it onto the same fd
// number), then let the real call run. If that call fails at once because the chosen stack has no path
// (ENETUNREACH/EHOSTUNREACH) and the rule ranks more stacks, move to the next and try again: nothing was sent
// yet, so nothing is lost (the nSocket rule of DESIGN.md §1).
#include <sys/socket.h>

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>

#include "dmm/orchestrator.hpp"
#include "dmm/session.hpp"
#include "fd_table.hpp"
#include "shim_state.hpp"
#include "shim_guard.hpp"
#include "sockaddr_view.hpp"
#include "user_session.hpp"

namespace dmm::preload {

enum class Trigger : std::uint8_t { connect, sendto, sendmsg, sendmmsg, listen, bind };
std::string_view to_string(Trigger trigger);

struct Placement {
  bool managed = false;         // false: not the shim's to decide; the call passes through untouched
  int failed_errno = 0;         // no stack could take the socket: fail the call with this errno
  bool can_fall_back = false;   // another ranked stack remains to try after a path error
  Choice choice;
  int rank = 0;                 // position in choice.ranked now carrying the socket
  SessionRequest request;
  Trigger trigger = Trigger::connect;
  BoundAddress bound;           // the placeholder's local address, replayed on every re-created socket
  // Set when a user-space stack took the session: the call is the session's, not the kernel's.
  std::shared_ptr<UserSession> user_session;
  // Set when a user-space instance of dmm-stackd took the session: the fd is the program's end of it already.
  std::uint64_t service_session = 0;
};

// The slot of `fd` if a decision is due (shim active, pending socket), else nullptr. Lock-free.
FdSlot* slot_needing_decision(int fd);

// Decides for pending `fd` (takes its slot lock). `dst` is the destination (for listen and bind: the local
// address, which is what a rule's `dst` matches for sessions that arrive).
Placement place_pending(int fd, FdSlot& slot, const Endpoint& dst, Trigger trigger) noexcept;

// After the call failed with path error `err` on choice.ranked[rank]: re-create on the next workable stack.
// True if the socket moved (retry the call); false leaves the socket and errno as they are.
bool fall_back(int fd, FdSlot& slot, Placement& placement, int err) noexcept;

inline bool is_path_error(int err) { return err == ENETUNREACH || err == EHOSTUNREACH; }

// The call failed with path error `err` on the last stack the rule ranks: one (rate-limited) line on stderr, as
// for any placement that ends without a stack.
void report_no_stack_left(int fd, const Placement& placement, int err) noexcept;

// A call (bind, setsockopt) failed on a pending placeholder that socket() made on a predicted stack: in the
// program's own namespace, where the program believes its socket is, it might have worked (an address or device
// only that namespace has). Moves the placeholder there (options replayed, bound address re-bound) so that the
// caller can retry; the decision later treats it like any placeholder. False if `fd` is not such a placeholder
// or it could not be moved (errno is then unchanged).
bool move_predicted_placeholder_home(int fd) noexcept;

// Defined in connect_race.hpp (which needs Placement): whether a TCP connect races, and the race.
bool wants_race(const Placement& p);
std::optional<int> race_connect(int fd, FdSlot& slot, Placement& p, const sockaddr* address, socklen_t length);

// connect/sendto/sendmsg/listen/bind share this: decide if due, then call (a TCP connect may race the ranked
// stacks: connect_race.hpp), then fall back on path errors.
// `call` performs the real libc call and returns its result (-1/errno on failure); `user_call(session)` is the
// same call on a user-space session, when a user-space stack took the socket; `service_call()` the same call once
// the fd is the program's end of a dmm-stackd session (the destination is the session's: no address is passed).
template <typename Call, typename UserCall, typename ServiceCall>
auto decide_then_call(int fd, const sockaddr* dst, socklen_t dst_length, Trigger trigger, Call&& call,
                      UserCall&& user_call, ServiceCall&& service_call) -> decltype(call()) {
  using R = decltype(call());
  FdSlot* slot = slot_needing_decision(fd);
  if (!slot) return call();
  const std::optional<Endpoint> endpoint = endpoint_of(dst, dst_length);
  if (!endpoint) return call();  // AF_UNSPEC (UDP disconnect), a short address: the kernel's business
  Placement placement = place_pending(fd, *slot, *endpoint, trigger);
  if (!placement.managed) return call();
  if (placement.failed_errno != 0) {
    errno = placement.failed_errno;
    return static_cast<R>(-1);
  }
  for (;;) {
    // A TCP connect may race the later ranked stacks (nullopt: it could not, and is made as without racing).
    std::optional<int> raced;
    if (trigger == Trigger::connect && wants_race(placement))
      raced = race_connect(fd, *slot, placement, dst, dst_length);
    if (placement.user_session)
      return raced ? static_cast<R>(*raced) : static_cast<R>(user_call(*placement.user_session));
    // A session of dmm-stackd's that failed for want of a path (its host does not answer ARP) before the program
    // saw anything of it (a blocking connect) moves down the ranked list like a kernel socket.
    const R result = raced                       ? static_cast<R>(*raced)
                     : placement.service_session ? static_cast<R>(service_call())
                                                 : call();
    if (result >= 0) return result;
    const int err = errno;
    if (!placement.can_fall_back) {
      if (is_path_error(err)) report_no_stack_left(fd, placement, err);
      errno = err;
      return result;
    }
    if (!is_path_error(err) || !fall_back(fd, *slot, placement, err)) {
      errno = err;
      return result;
    }
  }
}

// listen and bind: never placed on a user-space instance (refused there, the ranked list moves on).
template <typename Call, typename UserCall>
auto decide_then_call(int fd, const sockaddr* dst, socklen_t dst_length, Trigger trigger, Call&& call,
                      UserCall&& user_call) -> decltype(call()) {
  return decide_then_call(fd, dst, dst_length, trigger, std::forward<Call>(call), std::forward<UserCall>(user_call),
                          [] {
                            errno = EOPNOTSUPP;
                            return -1;
                          });
}

}  // namespace dmm::preload
