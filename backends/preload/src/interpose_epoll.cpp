// epoll_ctl: registrations of pending sockets are recorded, so that they follow the socket when the decision
// replaces it (epoll_interest.hpp says why). Every other fd passes straight through after one fd-table load.
#include <sys/epoll.h>

#include <cerrno>

#include "epoll_interest.hpp"
#include "export.hpp"
#include "fd_table.hpp"
#include "real_calls.hpp"
#include "shim_guard.hpp"
#include "shim_state.hpp"

using namespace dmm::preload;

DMM_INTERPOSE int epoll_ctl(int epfd, int op, int fd, epoll_event* event) __THROW {
  FdSlot* slot = active_shim() && !inside_shim() ? fd_table().find(fd) : nullptr;
  if (!slot || slot->state.load(std::memory_order_acquire) != FdState::pending)
    return real().epoll_ctl(epfd, op, fd, event);
  // Under the slot lock, so that a decision on another thread sees either none of this call or all of it (the
  // kernel's registration and our record of it), never a registration on the placeholder it does not know of.
  SlotLock lock(*slot);
  if (lock.reentered() || slot->state.load(std::memory_order_relaxed) != FdState::pending)
    return real().epoll_ctl(epfd, op, fd, event);
  const int result = real().epoll_ctl(epfd, op, fd, event);
  if (result == 0) {
    const int saved_errno = errno;
    record_epoll_ctl(slot->record, epfd, op, event);
    errno = saved_errno;
  }
  return result;
}
