#include "socket_pool.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t value) {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, value, nullptr, nullptr, 0);
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
  if (filler_sleeping_.load(std::memory_order_seq_cst)) futex(wake_word_, FUTEX_WAKE_PRIVATE, 1);
}

bool SocketPools::needs_filling() noexcept {
  for (Kind& kind : kinds_) {
    if (kind.key.load(std::memory_order_acquire) == 0) continue;
    KindLock lock(kind.owner);
    if (lock.held() && kind.count < kind.target) return true;
  }
  return false;
}

void SocketPools::park(Kind& kind, kernel::UniqueFd fd, int floor) {
  // Out of the program's way: the numbers programs use are small ones (high_fd_floor says why). If there is no
  // room up there the socket is not kept: a parked socket must never hold a number the program may expect.
  const int high = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, floor);
  if (high < 0) return;
  kernel::UniqueFd parked(high);
  fd.reset();
  struct stat st {};
  if (::fstat(parked.get(), &st) != 0) return;
  KindLock lock(kind.owner);
  if (!lock.held() || kind.count >= kCapacity) return;
  kind.ready[kind.count++] = PooledSocket{parked.release(), st.st_dev, st.st_ino};
}

bool SocketPools::fill_one_round() {
  bool made_any = false;
  for (Kind& kind : kinds_) {
    if (kind.key.load(std::memory_order_acquire) == 0) continue;
    PoolKey key;
    int missing = 0;
    {
      KindLock lock(kind.owner);
      if (!lock.held()) continue;
      key = kind.unpacked;
      missing = kind.target - kind.count;
    }
    if (missing <= 0) continue;
    Result<std::vector<kernel::UniqueFd>> made = make_(key, missing);
    if (!made) {
      // This kind cannot be made now (a namespace gone, dmm-stackd refusing): stop keeping it; the decision
      // reports the reason when it makes one itself.
      KindLock lock(kind.owner);
      if (lock.held()) kind.target = 0;
      continue;
    }
    // Published while they sit at low numbers, so that a fork meanwhile closes the child's copies.
    for (std::size_t i = 0; i < made->size() && i < static_cast<std::size_t>(kCapacity); ++i)
      moving_[i].store((*made)[i].get(), std::memory_order_release);
    const int floor = kernel::high_fd_floor();  // read once per batch: it asks for the fd limit
    for (std::size_t i = 0; i < made->size(); ++i) {
      park(kind, std::move((*made)[i]), floor);
      if (i < static_cast<std::size_t>(kCapacity)) moving_[i].store(-1, std::memory_order_release);
    }
    made_any = made_any || !made->empty();
  }
  return made_any;
}

void SocketPools::fill_forever() {
  ++t_inside_shim;  // for the thread's whole life: its socket calls are the shim's own
  for (;;) {
    if (fill_one_round()) continue;
    filler_sleeping_.store(true, std::memory_order_seq_cst);
    const std::uint32_t seen = wake_word_.load(std::memory_order_seq_cst);
    if (!needs_filling()) futex(wake_word_, FUTEX_WAIT_PRIVATE, seen);
    filler_sleeping_.store(false, std::memory_order_seq_cst);
  }
}

void SocketPools::after_fork_in_child() noexcept {
  for (std::atomic<int>& moving : moving_) {
    const int fd = moving.exchange(-1, std::memory_order_relaxed);
    if (fd >= 0) ::syscall(SYS_close, fd);
  }
  for (Kind& kind : kinds_) {
    // Whoever held the lock at the fork does not exist here.
    kind.owner.store(0, std::memory_order_relaxed);
    for (int i = 0; i < kind.count; ++i) ::syscall(SYS_close, kind.ready[i].fd);
    kind.count = 0;
  }
  filler_sleeping_.store(false, std::memory_order_relaxed);
  filler_running_.store(false, std::memory_order_release);
}

}  // namespace dmm::preload
