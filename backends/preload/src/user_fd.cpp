#include "user_fd.hpp"

#include <sys/stat.h>

#include <atomic>
#include <cerrno>

#include "fd_table.hpp"
#include "shim_guard.hpp"
#include "shim_state.hpp"

namespace dmm::preload {

UserFd user_fd(int fd) {
  if (inside_shim()) return {};
  FdSlot* slot = fd_table().find(fd);
  if (!slot || slot->state.load(std::memory_order_acquire) != FdState::user) return {};
  Shim* shim = active_shim();
  UserStacks* stacks = shim ? shim->user_stacks() : nullptr;
  if (!stacks) return {};
  std::uint64_t id = 0;
  {
    SlotLock lock(*slot);
    if (lock.reentered() || slot->state.load(std::memory_order_relaxed) != FdState::user) return {};
    id = slot->record.session;
  }
  if (!stacks->in_owner_process()) return UserFd{nullptr, true};
  std::shared_ptr<UserSession> session = stacks->sessions().find(id);
  if (!session) return {};
  // The number may have been closed behind the shim's back (close_range) and reused: only the session's own
  // application end is the session's.
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !session->is_app_end(st.st_dev, st.st_ino)) return {};
  return UserFd{std::move(session), false};
}

int foreign_user_fd_error() {
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true))
    warn("a socket carried by a user-space stack was used in a forked child; such sockets work only in the "
         "process that opened them (EIO)");
  return EIO;
}

}  // namespace dmm::preload
