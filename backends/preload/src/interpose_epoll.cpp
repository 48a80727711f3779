// epoll_ctl: registrations of pending sockets are recorded, so that they follow the socket when the decision
// replaces it (epoll_interest.hpp says why). Every other fd passes straight through after one fd-table load.
#include <sys/epoll.h>

#include <cerrno>

#include "connect_race.hpp"
#include "epoll_interest.hpp"
#include "export.hpp"
#include "fd_table.hpp"
#include "real_calls.hpp"
#include "shim_guard.hpp"
#include "shim_state.hpp"

using namespace dmm::preload;

namespace {

// A pending socket's registrations follow it to its stack; so do those of a placed socket whose connect is being
// raced (connect_race.hpp: the winner may replace it). Placed sockets are looked at only while some race runs.
bool may_be_raced(FdState state) {
  return state == FdState::placed || state == FdState::service || state == FdState::user;
}

bool records_epoll(FdState state) { return state == FdState::pending || (may_be_raced(state) && races_running() > 0); }

}  // namespace

DMM_INTERPOSE int epoll_ctl(int epfd, int op, int fd, epoll_event* event) __THROW {
  FdSlot* slot = active_shim() && !inside_shim() ? fd_table().find(fd) : nullptr;
  if (!slot || !records_epoll(slot->state.load(std::memory_order_acquire))) return real().epoll_ctl(epfd, op, fd, event);
  // Under the slot lock, so that a decision on another thread sees either none of this call or all of it (the
  // kernel's registration and our record of it), never a registration on the placeholder it does not know of.
  SlotLock lock(*slot);
  const FdState state = slot->state.load(std::memory_order_relaxed);
  const bool raced = may_be_raced(state) && slot->record.race_serial != 0;
  if (lock.reentered() || !(state == FdState::pending || raced))
    return real().epoll_ctl(epfd, op, fd, event);
  const int result = real().epoll_ctl(epfd, op, fd, event);
  if (result == 0) {
    const int saved_errno = errno;
    record_epoll_ctl(slot->record, epfd, op, event);
    errno = saved_errno;
  }
  return result;
}
