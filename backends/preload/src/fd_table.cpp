#include "fd_table.hpp"

#include <sched.h>
#include <sys/mman.h>

#include <new>

namespace dmm::preload {
namespace {

// initial-exec: the shim is loaded at start-up (LD_PRELOAD), so its TLS is static and reading it never calls into
// the dynamic loader (which may allocate; not safe in a signal handler).
__thread char t_token_byte __attribute__((tls_model("initial-exec")));

void cpu_relax() { __builtin_ia32_pause(); }

// Spin briefly (the holder is usually inside a few syscalls), then yield: a decision that creates a socket in
// another namespace takes tens of microseconds, and the holder may be descheduled on a 2-core machine.
std::uintptr_t acquire(FdSlot& slot, std::uintptr_t me) {
  for (unsigned spins = 0;; ++spins) {
    std::uintptr_t expected = 0;
    if (slot.owner.compare_exchange_weak(expected, me, std::memory_order_acquire, std::memory_order_relaxed))
      return me;
    if (expected == me) return 0;  // re-entered from a signal handler on the holder's own thread
    if (spins < 100)
      cpu_relax();
    else
      sched_yield();
  }
}

}  // namespace

std::uintptr_t thread_token() { return reinterpret_cast<std::uintptr_t>(&t_token_byte); }

FdTable& fd_table() {
  // Constant-initialized (no constructor runs), so it is usable by calls made before the shim's own constructor,
  // and it is never destroyed: threads may still make socket calls while exit() runs static destructors.
  static constinit FdTable table;
  return table;
}

FdSlot* FdTable::find(int fd) const {
  if (fd < 0 || fd >= kMaxFds) return nullptr;
  FdSlot* chunk = chunks_[fd >> kChunkBits].load(std::memory_order_acquire);
  return chunk ? &chunk[fd & (kChunkSize - 1)] : nullptr;
}

FdSlot* FdTable::find_or_create(int fd) {
  if (fd < 0 || fd >= kMaxFds) return nullptr;
  std::atomic<FdSlot*>& entry = chunks_[fd >> kChunkBits];
  FdSlot* chunk = entry.load(std::memory_order_acquire);
  if (!chunk) {
    void* mem = mmap(nullptr, sizeof(FdSlot) * kChunkSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (mem == MAP_FAILED) return nullptr;
    FdSlot* fresh = static_cast<FdSlot*>(mem);
    for (int i = 0; i < kChunkSize; ++i) new (&fresh[i]) FdSlot();
    // Another thread may have installed a chunk meanwhile: keep theirs, give ours back.
    if (entry.compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel, std::memory_order_acquire)) {
      chunk = fresh;
    } else {
      munmap(mem, sizeof(FdSlot) * kChunkSize);
    }
  }
  return &chunk[fd & (kChunkSize - 1)];
}

void FdTable::reset_after_fork() {
  const std::uintptr_t me = thread_token();
  for_each([me](int, FdSlot& slot) {
    const std::uintptr_t holder = slot.owner.load(std::memory_order_relaxed);
    if (holder != 0 && holder != me) {
      // Its holder was mid-update: the record may be half-written. Forgetting it is safe (pass-through); trusting
      // it is not.
      slot.state.store(FdState::untracked, std::memory_order_relaxed);
      slot.owner.store(0, std::memory_order_release);
    }
  });
}

SlotLock::SlotLock(FdSlot& slot) : slot_(slot) { held_ = acquire(slot, thread_token()) != 0; }

SlotLock::SlotLock(FdSlot& slot, TryOnly) : slot_(slot) {
  std::uintptr_t expected = 0;
  held_ = slot.owner.compare_exchange_strong(expected, thread_token(), std::memory_order_acquire,
                                             std::memory_order_relaxed);
}

SlotLock::~SlotLock() {
  if (held_) slot_.owner.store(0, std::memory_order_release);
}

SlotPairLock::SlotPairLock(int fd_a, FdSlot& a, int fd_b, FdSlot& b) {
  const std::uintptr_t me = thread_token();
  first_ = fd_a <= fd_b ? &a : &b;
  second_ = fd_a <= fd_b ? &b : &a;
  held_first_ = acquire(*first_, me) != 0;
  if (first_ != second_) held_second_ = acquire(*second_, me) != 0;
  reentered_ = !held_first_ || (first_ != second_ && !held_second_);
}

SlotPairLock::~SlotPairLock() {
  if (held_second_) second_->owner.store(0, std::memory_order_release);
  if (held_first_) first_->owner.store(0, std::memory_order_release);
}

}  // namespace dmm::preload
