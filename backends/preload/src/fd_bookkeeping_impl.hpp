#pragma once
// Template bodies of fd_bookkeeping.hpp.
#include <cerrno>

#include "fd_table.hpp"
#include "shim_state.hpp"

namespace dmm::preload {

void copy_record(FdSlot& to, FdState state, const FdRecord& record);
void mark_aliased(int fd, FdSlot& slot);

template <typename DupCall>
int dup_with_record(int from, DupCall&& dup_call) {
  FdSlot* source = fd_table().find(from);
  if (!source || source->state.load(std::memory_order_acquire) == FdState::untracked || in_foreign_child()) {
    const int fresh = dup_call();
    if (fresh >= 0) forget_fd(fresh);  // a stale record of an earlier fd with this number
    return fresh;
  }
  SlotLock lock(*source);
  const int fresh = dup_call();
  if (fresh < 0 || lock.reentered()) return fresh;
  const int saved_errno = errno;
  FdState state = source->state.load(std::memory_order_relaxed);
  FdSlot* target = fd_table().find_or_create(fresh);
  if (target) {
    // Nested lock out of fd order: try only. The new number was free a moment ago, so only a program racing
    // itself on it could hold it; then the new fd stays unrecorded (and passes through), never a deadlock.
    SlotLock target_lock(*target, SlotLock::TryOnly{});
    if (target_lock.held()) {
      if (state == FdState::pending) {
        mark_aliased(from, *source);
        state = source->state.load(std::memory_order_relaxed);  // untracked if the record was stale
      }
      copy_record(*target, state, source->record);
    }
  }
  // A dup of a socket whose connect is being raced: two fds now share the first attempt, and a winner put behind
  // one of them would leave the other on a socket shut down. The race ends (its check sees the serial gone).
  source->record.race_serial = 0;
  errno = saved_errno;
  return fresh;
}

template <typename DupCall>
int dup_onto_with_record(int from, int to, DupCall&& dup_call) {
  FdSlot* source = fd_table().find(from);
  FdSlot* target = fd_table().find(to);
  const bool source_tracked = source && source->state.load(std::memory_order_acquire) != FdState::untracked;
  const bool target_tracked = target && target->state.load(std::memory_order_acquire) != FdState::untracked;
  if ((!source_tracked && !target_tracked) || from == to || in_foreign_child()) return dup_call();
  if (source_tracked && !target) target = fd_table().find_or_create(to);
  if (!source) source = fd_table().find_or_create(from);
  if (!source || !target) return dup_call();
  SlotPairLock locks(from, *source, to, *target);
  const int result = dup_call();
  if (result < 0 || locks.reentered()) return result;
  const int saved_errno = errno;
  FdState state = source->state.load(std::memory_order_relaxed);
  if (state == FdState::pending) {
    mark_aliased(from, *source);
    state = source->state.load(std::memory_order_relaxed);  // untracked if the record was stale
  }
  copy_record(*target, state, source->record);
  source->record.race_serial = 0;  // as for dup(): the race ends
  errno = saved_errno;
  return result;
}

}  // namespace dmm::preload
