#pragma once
// setsockopt/getsockopt on the application end of a user-space session: answered as a TCP (or UDP) socket of
// that stack would answer, not as the AF_UNIX socket the fd really is.
#include <sys/socket.h>

#include "user_session.hpp"

namespace dmm::preload {

int user_setsockopt(UserSession& session, int level, int name, const void* value, socklen_t length);
// The options a user-space session acts on (TCP_NODELAY, SO_RCVTIMEO, SO_SNDTIMEO), from what the program set on
// its socket before the decision.
void apply_recorded_option(UserSession& session, int level, int name, const void* value, socklen_t length);
int user_getsockopt(UserSession& session, int level, int name, void* value, socklen_t* length);

}  // namespace dmm::preload
