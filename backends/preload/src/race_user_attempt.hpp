#pragma once
// A race's attempt on a user-space (lwip-dpdk) instance that runs inside the program (connect_race.hpp): a
// UserSession on the stack thread, made as a placement makes one (put_on_user_stack), whose application end the
// race holds and watches — the end turns writable when the handshake is over, readable and writable when it
// failed (readiness_mirror.hpp) — and, if it wins, puts behind the program's fd.
#include <sys/types.h>

#include <memory>

#include "dmm/result.hpp"
#include "dmm/session.hpp"
#include "fd_record.hpp"
#include "shim_state.hpp"
#include "user_session.hpp"

namespace dmm::preload {

// An lwip-dpdk instance running in this process (not dmm-stackd's), that a session can be opened on now.
bool in_program_instance(const ShimStack& stack);

struct UserAttempt {
  std::shared_ptr<UserSession> session;
  int app_fd = -1;  // the application end, non-blocking and close-on-exec; the caller owns it
};

// A TCP session to `destination` on `stack`, connecting. The error names why not (ENETUNREACH: no route there).
Result<UserAttempt> open_user_attempt(const ShimStack& stack, const Endpoint& destination);

// The winner's session about to become the program's: the options the program set (`rec`'s) are applied to it,
// as a placement applies them, and it enters the session table; returns its id. Everything that allocates happens
// here, before its application end goes behind the program's fd (then: set_app_identity, rec.session = id,
// FdState::user); if that cannot be done, the caller takes it out again (sessions().remove).
std::uint64_t prepare_user_adoption(const FdRecord& rec, const std::shared_ptr<UserSession>& session);

}  // namespace dmm::preload
