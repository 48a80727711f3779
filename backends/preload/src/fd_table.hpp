#pragma once
// The shim's one piece of global mutable state (DESIGN.md §1): a record per application fd, indexed by fd number.
//
// Layout: a fixed top-level array of chunk pointers; a chunk of records is mmap'ed the first time one of its fds
// becomes a socket. Lookups of fds without a chunk (files, pipes, most fds of most programs) cost one atomic load.
// mmap, not malloc: socket() and dup() are async-signal-safe in POSIX and may run in a signal handler or in a
// child between fork and exec, where malloc's locks may be held.
//
// Each slot has a spinlock whose owner word is a per-thread token. Knowing the owner lets us
//  - notice re-entry from a signal handler on the thread that holds the lock (the handler then passes straight
//    through instead of spinning forever on a lock its own thread holds), and
//  - after fork, release in the child the locks held by threads that do not exist there (pthread_atfork child
//    handler), without taking any lock in the parent: fork never waits for the shim.
#include <atomic>
#include <cstdint>

#include "fd_record.hpp"

namespace dmm::preload {

struct FdSlot {
  std::atomic<std::uintptr_t> owner{0};                // 0 = unlocked, else the holder's thread token
  std::atomic<FdState> state{FdState::untracked};      // readable without the lock (fast paths)
  FdRecord record;                                     // guarded by `owner`
};

class FdTable {
public:
  static constexpr int kChunkBits = 8;
  static constexpr int kChunkSize = 1 << kChunkBits;
  static constexpr int kMaxFds = 1 << 20;  // Linux's default fs.nr_open; fds above are left alone (pass-through)
  static constexpr int kChunks = kMaxFds / kChunkSize;

  // The slot of `fd`, or null when no socket was ever recorded near it (then it is certainly untracked).
  FdSlot* find(int fd) const;
  // The slot of `fd`, creating its chunk; null if fd is out of range or memory is exhausted (then the shim does
  // not manage the socket: it stays in the program's own namespace, as without DMM).
  FdSlot* find_or_create(int fd);

  // pthread_atfork child handler: the only thread left is the one that forked. Slots locked by other threads were
  // mid-update at the fork; unlock them and forget their record (the child's fd is then passed through as-is).
  void reset_after_fork();

  // For fd aliases (dup of a pending placeholder): calls fn(fd, slot) for every slot that may be in use.
  template <typename Fn>
  void for_each(Fn&& fn) {
    for (int c = 0; c < kChunks; ++c) {
      FdSlot* chunk = chunks_[c].load(std::memory_order_acquire);
      if (!chunk) continue;
      for (int i = 0; i < kChunkSize; ++i) fn(c * kChunkSize + i, chunk[i]);
    }
  }

private:
  std::atomic<FdSlot*> chunks_[kChunks]{};
};

FdTable& fd_table();

// This thread's lock token: the address of a thread-local byte, unique among live threads, and the same in a
// forked child for the thread that forked (its stack and TLS are copied at the same addresses).
std::uintptr_t thread_token();

// RAII spinlock on one slot. `reentered()`: this thread already holds it (we are in a signal handler that
// interrupted the shim); the caller must then not touch the record and should pass the call through.
class SlotLock {
public:
  struct TryOnly {};
  explicit SlotLock(FdSlot& slot);
  // One attempt, no waiting: `held()` says whether it was taken.
  SlotLock(FdSlot& slot, TryOnly);
  ~SlotLock();
  SlotLock(const SlotLock&) = delete;
  SlotLock& operator=(const SlotLock&) = delete;
  bool reentered() const { return !held_; }
  bool held() const { return held_; }

private:
  FdSlot& slot_;
  bool held_ = false;
};

// Two slots in fd order, so that two threads dup'ing in opposite directions cannot deadlock. `a` may equal `b`.
class SlotPairLock {
public:
  SlotPairLock(int fd_a, FdSlot& a, int fd_b, FdSlot& b);
  ~SlotPairLock();
  SlotPairLock(const SlotPairLock&) = delete;
  SlotPairLock& operator=(const SlotPairLock&) = delete;
  bool reentered() const { return reentered_; }

private:
  FdSlot* first_ = nullptr;
  FdSlot* second_ = nullptr;
  bool held_first_ = false;
  bool held_second_ = false;
  bool reentered_ = false;
};

}  // namespace dmm::preload
