#pragma once
// Sockets of kernel instances made in advance, so that a program's socket() and the decision that re-creates a
// placeholder cost what a plain socket() costs (issue 11 point 3).
//
// Why: making a socket inside another network namespace takes two setns calls on the calling thread (a
// placeholder replaced on a decision takes a third socket and a dup3); on this kind of machine a system call
// costs about a microsecond, and a whole connect+close over a veth some tens. So a thread of the shim keeps a few
// sockets of each kind in use ready (made in batches: one pair of namespace switches per batch, or one request
// to dmm-stackd for a process that may not switch), parked at high fd numbers, close-on-exec. socket() then
// takes one and dup's it to the lowest free number (the number the program would have got: F_DUPFD), closing the
// parked copy — two cheap calls instead of socket() and two setns.
//
// Kinds are wanted by decisions (a session was placed on that stack with that family and type), so a program
// that never moves a session never starts the thread. How many of a kind are kept doubles each time the program
// has used half of them (2, 4, ... 16). Fork: the child's copies of the parked sockets are shared with the parent, which
// will hand them out, so the child closes them (after_fork_in_child) and refills later with its own thread.
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"

namespace dmm::preload {

// A kind of socket kept ready: which stack (index into the shim's table), family, SOCK_STREAM or SOCK_DGRAM,
// and whether it is made non-blocking (O_NONBLOCK is per open file: a taken socket keeps what it was made with).
struct PoolKey {
  int stack = -1;
  int domain = 0;
  int type = 0;
  bool nonblocking = false;
  // Non-zero for every valid key; equal keys pack equal.
  std::uint32_t packed() const;
};

struct PooledSocket {
  int fd = -1;  // parked at a high number, FD_CLOEXEC
  dev_t dev = 0;
  ino_t ino = 0;
};

// Makes `count` sockets of a kind (any fd numbers, close-on-exec): the shim's instance sockets (setns) or
// dmm-stackd. Called on the pool's own thread only.
using SocketBatchMaker = std::function<Result<std::vector<kernel::UniqueFd>>(const PoolKey&, int count)>;

class SocketPools {
public:
  static constexpr int kKinds = 16;     // distinct kinds kept at once; later ones are simply not pooled
  static constexpr int kCapacity = 16;  // ready sockets per kind at most

  explicit SocketPools(SocketBatchMaker make) : make_(std::move(make)) {}
  SocketPools(const SocketPools&) = delete;
  SocketPools& operator=(const SocketPools&) = delete;

  // A ready socket of `key`, or false (none ready, a kind not kept, or this thread is inside the pool already —
  // a signal handler that interrupted it). Lock-free for kinds not kept; never allocates, never waits on the
  // filling thread; one futex wake when the kind runs low and the thread sleeps. Async-signal-safe.
  bool take(const PoolKey& key, PooledSocket& out) noexcept;

  // A decision used a socket of `key`: keep some ready from now on. Starts the filling thread the first time in
  // a process. Allocates (not async-signal-safe): decisions only.
  void want(const PoolKey& key);

  // pthread_atfork child handler (async-signal-safe): closes this process's copies of the parked sockets and of
  // those the filling thread was moving (each only if the number still is that socket), and forgets the thread
  // (it does not exist here). A socket the thread had just made and not yet published stays open in the child
  // (close-on-exec; a window of a few instructions per batch).
  void after_fork_in_child() noexcept;

  // The process changed its credentials (setuid & co.): sockets parked before were made for the old ones (their
  // owner is the old uid, and dmm-stackd admitted them for it). Closes them all; the next ones are made anew.
  void flush() noexcept;

  // How many of `key` are ready now (tests, benchmarks).
  int ready(const PoolKey& key) const noexcept;

  void fill_forever();  // the filling thread's body

private:
  struct Kind {
    std::atomic<std::uint32_t> key{0};          // PoolKey::packed(); 0 = unused. Set once, under `owner`.
    std::atomic<std::uintptr_t> owner{0};       // spinlock; the holder's thread token
    PoolKey unpacked;                           // guarded by owner
    int count = 0;                              // guarded by owner; ready[0..count) are valid
    int target = 0;                             // guarded by owner: how many to keep
    long long retry_after_ms = 0;               // guarded by owner: after a failure, not refilled before this
    PooledSocket ready[kCapacity];              // guarded by owner
  };
  // Numbers the filling thread holds outside `ready`, for a fork child to close: each published while it is
  // open and withdrawn before it is closed, so that a child never closes a number the program reused.
  struct Moving {
    std::atomic<int> low{-1};   // as made (any number)
    std::atomic<int> high{-1};  // its parked copy, not yet in `ready`
  };

  Kind* find(std::uint32_t packed) noexcept;
  const Kind* find(std::uint32_t packed) const noexcept;
  // Work the filling thread can do now; `next_retry_ms` (0: none) is the earliest backed-off kind's retry time.
  bool needs_filling(long long now_ms, long long& next_retry_ms) noexcept;
  bool fill_one_round();
  void wake_filler() noexcept;
  bool park(Kind& kind, Moving& moving, int low, int floor, unsigned generation);

  SocketBatchMaker make_;
  Kind kinds_[kKinds];
  std::atomic<std::uint32_t> wake_word_{0};
  std::atomic<bool> filler_sleeping_{false};
  std::atomic<bool> filler_running_{false};  // in this process (a fork child has none until it wants one)
  std::atomic<unsigned> generation_{0};      // flush() counts: a batch made before one is not parked after it
  Moving moving_[kCapacity];
};

}  // namespace dmm::preload
