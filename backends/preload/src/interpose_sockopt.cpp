// setsockopt/getsockopt: options set on a pending placeholder are remembered for replay; level SOL_DMM is the
// shim's own (dmm/dmm_socket.h): DMM_INTENT in, DMM_INTENT and DMM_STACK out.
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "connect_race.hpp"
#include "dmm/dmm_socket.h"
#include "dmm/session.hpp"
#include "export.hpp"
#include "fd_table.hpp"
#include "placement.hpp"
#include "real_calls.hpp"
#include "record_ops.hpp"
#include "service_fd.hpp"
#include "user_fd.hpp"
#include "user_sockopt.hpp"
#include "shim_guard.hpp"
#include "shim_state.hpp"

using namespace dmm::preload;

static_assert(DMM_INTENT_DEFAULT == static_cast<int>(dmm::Intent::default_));
static_assert(DMM_INTENT_LATENCY == static_cast<int>(dmm::Intent::latency));
static_assert(DMM_INTENT_THROUGHPUT == static_cast<int>(dmm::Intent::throughput));
static_assert(DMM_INTENT_BULK == static_cast<int>(dmm::Intent::bulk));

namespace {

// The slot of a socket the shim manages, or null (then SOL_DMM goes to the kernel, which rejects the unknown
// level: the same answer a program run without the shim gets).
FdSlot* managed_slot(int fd) {
  if (!active_shim() || inside_shim()) return nullptr;
  FdSlot* slot = fd_table().find(fd);
  if (!slot || slot->state.load(std::memory_order_acquire) == FdState::untracked) return nullptr;
  return slot;
}

int fail(int err) {
  errno = err;
  return -1;
}

int set_intent(FdSlot& slot, const void* value, socklen_t length) {
  int intent = 0;
  if (!value || length < static_cast<socklen_t>(sizeof intent)) return fail(EINVAL);
  std::memcpy(&intent, value, sizeof intent);
  if (intent < DMM_INTENT_DEFAULT || intent > DMM_INTENT_BULK) return fail(EINVAL);
  SlotLock lock(slot);
  if (lock.reentered()) return fail(EBUSY);
  // After the decision the intent could change nothing: say so rather than accept it silently.
  if (slot.state.load(std::memory_order_relaxed) != FdState::pending) return fail(EISCONN);
  slot.record.intent = static_cast<std::uint8_t>(intent);
  return 0;
}

int get_dmm_option(int fd, FdSlot& slot, int name, void* value, socklen_t* length) {
  if (!value || !length) return fail(EFAULT);
  SlotLock lock(slot);
  if (lock.reentered()) return fail(EBUSY);
  const FdState state = slot.state.load(std::memory_order_relaxed);
  FdRecord& rec = slot.record;
  // Not (or no longer) ours: answer as the kernel does for an unknown level on an inet socket.
  if (state == FdState::untracked || !still_same_socket(fd, rec)) return fail(EOPNOTSUPP);
  if (name == DMM_INTENT) {
    const int intent = rec.intent;
    if (*length < static_cast<socklen_t>(sizeof intent)) return fail(EINVAL);
    std::memcpy(value, &intent, sizeof intent);
    *length = sizeof intent;
    return 0;
  }
  if (name != DMM_STACK) return fail(ENOPROTOOPT);
  if (state == FdState::pending) return fail(ENOTCONN);
  if (rec.stack == kNoStack) return fail(EOPNOTSUPP);  // no rule matched and no own-namespace instance named
  const std::string& stack = active_shim()->stack(rec.stack).name;
  if (*length < static_cast<socklen_t>(stack.size() + 1)) return fail(ERANGE);
  std::memcpy(value, stack.c_str(), stack.size() + 1);
  *length = static_cast<socklen_t>(stack.size() + 1);
  return 0;
}

// An option the program set on a socket whose connect is being raced (connect_race.hpp) is recorded: the winner
// gets it, whatever stack the first attempt and the winner are on. Placed, service and user sockets are looked at
// only while some race runs.
void record_if_raced(int fd, int level, int name, const void* value, socklen_t length) {
  if (races_running() == 0 || !active_shim() || inside_shim()) return;
  FdSlot* slot = fd_table().find(fd);
  if (!slot) return;
  const FdState seen = slot->state.load(std::memory_order_acquire);
  if (seen != FdState::placed && seen != FdState::service && seen != FdState::user) return;
  SlotLock lock(*slot);
  if (!lock.reentered() && slot->state.load(std::memory_order_relaxed) == seen && slot->record.race_serial != 0)
    record_option(slot->record, level, name, value, length);
}

}  // namespace

DMM_INTERPOSE int setsockopt(int fd, int level, int name, const void* value, socklen_t length) __THROW {
  if (level != SOL_DMM) {
    if (UserFd u = user_fd(fd)) {
      if (u.foreign) return fail(foreign_user_fd_error());
      const int result = user_setsockopt(*u.session, level, name, value, length);
      if (result == 0) record_if_raced(fd, level, name, value, length);
      return result;
    }
    if (FdSlot* slot = service_slot(fd)) {
      const int result = service_setsockopt(fd, *slot, level, name, value, length);
      if (result == 0 && level == SOL_SOCKET) record_if_raced(fd, level, name, value, length);
      return result;
    }
  }
  if (level == SOL_DMM) {
    FdSlot* slot = managed_slot(fd);
    if (!slot) return real().setsockopt(fd, level, name, value, length);
    if (name != DMM_INTENT) return fail(ENOPROTOOPT);
    return set_intent(*slot, value, length);
  }
  int result = real().setsockopt(fd, level, name, value, length);
  if (result != 0 && move_predicted_placeholder_home(fd)) result = real().setsockopt(fd, level, name, value, length);
  // Only options the placeholder accepted are remembered: those are the ones in force for the program.
  if (result != 0 || !active_shim() || inside_shim()) return result;
  // Recorded for a pending socket (its stack gets them), and for one whose connect is being raced.
  FdSlot* slot = fd_table().find(fd);
  if (!slot) return result;
  if (slot->state.load(std::memory_order_acquire) != FdState::pending) {
    record_if_raced(fd, level, name, value, length);
    return result;
  }
  SlotLock lock(*slot);
  if (!lock.reentered() && slot->state.load(std::memory_order_relaxed) == FdState::pending)
    record_option(slot->record, level, name, value, length);
  return result;
}

DMM_INTERPOSE int getsockopt(int fd, int level, int name, void* value, socklen_t* length) __THROW {
  if (level != SOL_DMM) {
    if (UserFd u = user_fd(fd)) {
      if (u.foreign) return fail(foreign_user_fd_error());
      return user_getsockopt(*u.session, level, name, value, length);
    }
    if (FdSlot* slot = service_slot(fd)) return service_getsockopt(fd, *slot, level, name, value, length);
    return real().getsockopt(fd, level, name, value, length);
  }
  FdSlot* slot = managed_slot(fd);
  if (!slot) return real().getsockopt(fd, level, name, value, length);
  return get_dmm_option(fd, *slot, name, value, length);
}
