#include "socket_pool.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "fd_table.hpp"
#include "shim_guard.hpp"

namespace dmm::preload {
namespace {

// A spinlock on a kind, owned by a thread token (fd_table.hpp): re-entry from a signal handler on the holder's
// thread is seen and refused instead of spinning forever.
class KindLock {
public:
  explicit KindLock(std::atomic<std::uintptr_t>& owner) : owner_(owner) {
    const std::uintptr_t me = thread_token();
    for (unsigned spins = 0;; ++spins) {
      std::uintptr_t expected = 0;
      if (owner_.compare_exchange_weak(expected, me, std::memory_order_acquire, std::memory_order_relaxed)) {
        held_ = true;
        return;
      }
      if (expected == me) return;  // this thread holds it: a signal handler interrupted it
      if (spins > 100) sched_yield();
    }
  }
  ~KindLock() {
    if (held_) owner_.store(0, std::memory_order_release);
  }
  KindLock(const KindLock&) = delete;
  KindLock& operator=(const KindLock&) = delete;
  bool held() const { return held_; }

private:
  std::atomic<std::uintptr_t>& owner_;
  bool held_ = false;
};

// After a kind could not be made or kept, how long before the filling thread tries it again.
constexpr long long kRetryMs = 1000;
// Parked sockets sit at high_fd_floor() or above; under a tiny fd limit that floor comes down among the numbers
// programs use, and nothing is parked.
constexpr int kMinParkingFloor = 512;

void futex_wake(std::atomic<std::uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t seen, const timespec* timeout) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, seen, timeout, nullptr, 0);
}

long long monotonic_ms() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long long>(t.tv_sec) * 1000 + t.tv_nsec / 1'000'000;
}

void* run_filler(void* pools) {
  static_cast<SocketPools*>(pools)->fill_forever();
  return nullptr;
}

}  // namespace

std::uint32_t PoolKey::packed() const {
  // stack < 2^16, domain and type < 2^7 each; the top bit makes every key non-zero.
  return 0x80000000u | (static_cast<std::uint32_t>(stack & 0xffff) << 15) |
         (static_cast<std::uint32_t>(domain & 0x7f) << 8) | (static_cast<std::uint32_t>(type & 0x7f) << 1) |
         (nonblocking ? 1u : 0u);
}

SocketPools::Kind* SocketPools::find(std::uint32_t packed) noexcept {
  for (Kind& kind : kinds_)
    if (kind.key.load(std::memory_order_acquire) == packed) return &kind;
  return nullptr;
}

const SocketPools::Kind* SocketPools::find(std::uint32_t packed) const noexcept {
  for (const Kind& kind : kinds_)
    if (kind.key.load(std::memory_order_acquire) == packed) return &kind;
  return nullptr;
}

bool SocketPools::take(const PoolKey& key, PooledSocket& out) noexcept {
  Kind* kind = find(key.packed());
  if (!kind) return false;
  bool got = false, low = false;
  {
    KindLock lock(kind->owner);
    if (!lock.held()) return false;
    if (kind->count > 0) {
      out = kind->ready[--kind->count];
      got = true;
    }
    // Half empty: refill, and keep more of this kind from now on (a program that makes many sockets gets batches
    // of 8, one wake-up of the filling thread per 8 sockets; one that makes a few costs a few).
    low = kind->count <= kind->target / 2;
    if (low && kind->target < kCapacity) kind->target = std::max(2, kind->target * 2);
  }
  if (low) wake_filler();
  return got;
}

void SocketPools::want(const PoolKey& key) {
  const std::uint32_t packed = key.packed();
  bool added = false;
  if (!find(packed)) {
    for (Kind& kind : kinds_) {
      KindLock lock(kind.owner);
      if (!lock.held()) return;
      if (kind.key.load(std::memory_order_relaxed) == packed) break;  // another thread added it meanwhile
      if (kind.key.load(std::memory_order_relaxed) != 0) continue;
      kind.unpacked = key;
      kind.count = 0;
      kind.target = 2;
      kind.key.store(packed, std::memory_order_release);
      added = true;
      break;
    }
  }
  if (filler_running_.load(std::memory_order_acquire)) {
    if (added) wake_filler();
    return;
  }
  bool expected = false;
  if (!filler_running_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) return;  // another won
  // The thread must never run a handler of the program's signals: block them all while it is created (it inherits
  // the mask). pthread_create rather than std::thread: see nrd_subscription.cpp (LeakSanitizer and detached
  // threads of the program's whole life).
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pthread_t thread;
  if (::pthread_create(&thread, nullptr, &run_filler, this) == 0)
    ::pthread_detach(thread);
  else
    filler_running_.store(false, std::memory_order_release);  // no pool: every socket is made when it is needed
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

int SocketPools::ready(const PoolKey& key) const noexcept {
  const Kind* kind = find(key.packed());
  if (!kind) return 0;
  KindLock lock(const_cast<std::atomic<std::uintptr_t>&>(kind->owner));
  return lock.held() ? kind->count : 0;
}

void SocketPools::wake_filler() noexcept {
  wake_word_.fetch_add(1, std::memory_order_seq_cst);
  if (filler_sleeping_.load(std::memory_order_seq_cst)) futex_wake(wake_word_);
}

bool SocketPools::needs_filling(long long now_ms, long long& next_retry_ms) noexcept {
  next_retry_ms = 0;
  bool work = false;
  for (Kind& kind : kinds_) {
    if (kind.key.load(std::memory_order_acquire) == 0) continue;
    KindLock lock(kind.owner);
    if (!lock.held() || kind.count >= kind.target) continue;
    if (kind.retry_after_ms > now_ms) {
      if (next_retry_ms == 0 || kind.retry_after_ms < next_retry_ms) next_retry_ms = kind.retry_after_ms;
      continue;
    }
    work = true;
  }
  return work;
}

bool SocketPools::park(Kind& kind, Moving& moving, int low, int floor, unsigned generation) {
  // Out of the program's way: the numbers programs use are small ones (high_fd_floor says why). If there is no
  // room up there the socket is not kept: a parked socket must never hold a number the program may expect.
  const int high = ::fcntl(low, F_DUPFD_CLOEXEC, floor);
  if (high >= 0) moving.high.store(high, std::memory_order_release);
  moving.low.store(-1, std::memory_order_release);  // withdrawn before the number is closed (and maybe reused)
  ::close(low);
  if (high < 0) return false;
  struct stat st {};
  bool parked = false;
  if (::fstat(high, &st) == 0) {
    KindLock lock(kind.owner);
    // Under the kind's lock: a flush() either sees this entry (and closes it) or this sees its new generation.
    if (lock.held() && kind.count < kCapacity && generation == generation_.load(std::memory_order_acquire)) {
      kind.ready[kind.count] = PooledSocket{high, st.st_dev, st.st_ino};
      ++kind.count;  // after the entry is whole: a fork child trusts ready[0..count)
      parked = true;
    }
    moving.high.store(-1, std::memory_order_release);
  } else {
    moving.high.store(-1, std::memory_order_release);
  }
  if (!parked) ::close(high);
  return parked;
}

bool SocketPools::fill_one_round() {
  bool parked_any = false;
  const long long now = monotonic_ms();
  for (Kind& kind : kinds_) {
    if (kind.key.load(std::memory_order_acquire) == 0) continue;
    PoolKey key;
    int missing = 0;
    {
      KindLock lock(kind.owner);
      if (!lock.held() || kind.retry_after_ms > now) continue;
      key = kind.unpacked;
      missing = kind.target - kind.count;
    }
    if (missing <= 0) continue;
    const unsigned generation = generation_.load(std::memory_order_acquire);
    Result<std::vector<kernel::UniqueFd>> made = make_(key, missing);
    if (made && generation != generation_.load(std::memory_order_acquire)) continue;  // old credentials: dropped
    std::size_t parked = 0, tried = 0;
    if (made) {
      // Published while they sit at low numbers, so that a fork meanwhile closes the child's copies.
      tried = std::min(made->size(), static_cast<std::size_t>(kCapacity));
      for (std::size_t i = 0; i < tried; ++i) moving_[i].low.store((*made)[i].release(), std::memory_order_release);
      const int floor = kernel::high_fd_floor();  // read once per batch: it asks for the fd limit
      for (std::size_t i = 0; i < tried; ++i) {
        const int low = moving_[i].low.load(std::memory_order_relaxed);
        // A tiny fd limit leaves no high numbers to park at: then nothing is parked (never at small numbers).
        if (floor < kMinParkingFloor) {
          moving_[i].low.store(-1, std::memory_order_release);
          ::close(low);
          continue;
        }
        parked += park(kind, moving_[i], low, floor, generation) ? 1 : 0;
      }
    }
    if (!made || parked < tried || tried == 0) {
      // Cannot be made (a namespace gone, dmm-stackd refusing or away) or not kept (no room up high): keep what
      // fits, and try again in a while rather than at once — a refusal must not become a busy loop. A decision
      // reports the reason when it makes one itself.
      KindLock lock(kind.owner);
      if (lock.held()) {
        if (made) kind.target = std::max(kind.count, 1);
        kind.retry_after_ms = monotonic_ms() + kRetryMs;
      }
    }
    parked_any = parked_any || parked > 0;
  }
  return parked_any;
}

void SocketPools::fill_forever() {
  ++t_inside_shim;  // for the thread's whole life: its socket calls are the shim's own
  for (;;) {
    if (fill_one_round()) continue;
    filler_sleeping_.store(true, std::memory_order_seq_cst);
    const std::uint32_t seen = wake_word_.load(std::memory_order_seq_cst);
    const long long now = monotonic_ms();
    long long next_retry = 0;
    if (!needs_filling(now, next_retry)) {
      if (next_retry == 0) {
        futex_wait(wake_word_, seen, nullptr);
      } else {
        const long long wait = std::max(1LL, next_retry - now);
        const timespec timeout{static_cast<time_t>(wait / 1000), static_cast<long>((wait % 1000) * 1'000'000)};
        futex_wait(wake_word_, seen, &timeout);
      }
    }
    filler_sleeping_.store(false, std::memory_order_seq_cst);
  }
}

void SocketPools::flush() noexcept {
  generation_.fetch_add(1, std::memory_order_acq_rel);
  for (Kind& kind : kinds_) {
    if (kind.key.load(std::memory_order_acquire) == 0) continue;
    KindLock lock(kind.owner);
    if (!lock.held()) continue;
    for (int i = 0; i < kind.count; ++i) ::close(kind.ready[i].fd);
    kind.count = 0;
  }
  wake_filler();  // new ones, made for the credentials in force now
}

namespace {

// Closes `fd` in a fork child if it still is the socket (dev, ino); a number reused meanwhile is left alone.
void close_if_same(int fd, dev_t dev, ino_t ino) {
  struct stat st {};
  if (fd >= 0 && ::fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino) ::syscall(SYS_close, fd);
}

}  // namespace

void SocketPools::after_fork_in_child() noexcept {
  for (Moving& moving : moving_) {
    // Published only while open in the parent at the fork, so open here as the same socket.
    for (std::atomic<int>* fd : {&moving.low, &moving.high}) {
      const int number = fd->exchange(-1, std::memory_order_relaxed);
      if (number >= 0) ::syscall(SYS_close, number);
    }
  }
  for (Kind& kind : kinds_) {
    // Whoever held the lock at the fork does not exist here; entries are checked against their identity anyway.
    kind.owner.store(0, std::memory_order_relaxed);
    const int count = std::clamp(kind.count, 0, kCapacity);
    for (int i = 0; i < count; ++i) close_if_same(kind.ready[i].fd, kind.ready[i].dev, kind.ready[i].ino);
    kind.count = 0;
  }
  filler_sleeping_.store(false, std::memory_order_relaxed);
  filler_running_.store(false, std::memory_order_release);
}

}  // namespace dmm::preload
