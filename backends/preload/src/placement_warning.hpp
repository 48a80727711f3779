#pragma once
// One line on stderr when a session could not go where the policy put it, naming the session, the stack that
// failed, why, and what happened instead — so that a 502 from a proxy under dmm-run points at DMM, not only at
// the decision log nobody asked for. Rate-limited per process: a program opening thousands of connections on a
// broken instance must not flood its own stderr (the decision log keeps every one).
#include <string_view>

#include "dmm/session.hpp"

namespace dmm::preload {

// `failed_stack` failed with `why`; the session is now carried by `now_on`, or (empty `now_on`) the call fails
// with `failed_errno`.
void warn_placement(int fd, const SessionRequest& request, std::string_view event, std::string_view failed_stack,
                    std::string_view why, std::string_view now_on, int failed_errno);

}  // namespace dmm::preload
