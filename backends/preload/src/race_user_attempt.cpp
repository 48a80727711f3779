#include "race_user_attempt.hpp"

#include "shim_guard.hpp"
#include "user_sockopt.hpp"
#include "user_stacks.hpp"

namespace dmm::preload {

bool in_program_instance(const ShimStack& stack) {
  if (!stack.usable || !stack.user_space || stack.served) return false;
  Shim* shim = active_shim();
  UserStacks* stacks = shim ? shim->user_stacks() : nullptr;
  return stacks && stacks->in_owner_process() && stacks->stack(stack.name) != nullptr;
}

Result<UserAttempt> open_user_attempt(const ShimStack& stack, const Endpoint& destination) {
  UserStacks* stacks = active_shim()->user_stacks();
  Stack* user_stack = stacks ? stacks->stack(stack.name) : nullptr;
  if (!user_stack) return make_error(ENETUNREACH, "user-space stack '" + stack.name + "' is not running");
  auto mirror = [] {
    InsideShim guard;
    return ReadinessMirror::create(/*nonblocking=*/true);
  }();
  if (!mirror) return mirror.error();
  auto session = std::make_shared<UserSession>(*stacks, L4Proto::tcp, std::move(*mirror), destination);
  if (Status started = session->start_connect(*user_stack); !started) return started.error();
  UserAttempt attempt;
  attempt.app_fd = session->mirror().release_app_end();
  attempt.session = std::move(session);
  return attempt;
}

std::uint64_t prepare_user_adoption(const FdRecord& rec, const std::shared_ptr<UserSession>& session) {
  for (std::uint8_t i = 0; i < rec.option_count; ++i) {
    const RecordedOption& o = rec.options[i];
    apply_recorded_option(*session, o.level, o.name, o.value, o.length);
    session->remember_option(o.level, o.name, o.value, o.length);
  }
  return active_shim()->user_stacks()->sessions().add(session);
}

}  // namespace dmm::preload
