// Start-up. The shim is built from the environment on the first socket() call after the library constructor,
// not in the constructor itself: the constructor of a shared object runs in link order among the dynamic
// initializers of the static libraries linked into it (the config loader's tables of keys, ...), and may run
// before them. By the first socket() call after it, all of this object's initializers have run. Calls made before
// the constructor (constructors of libraries initialised earlier) pass through; so does everything when the
// config cannot be used.
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "fd_table.hpp"
#include "nrd_subscription.hpp"
#include "real_calls.hpp"
#include "shim_guard.hpp"
#include "shim_state.hpp"

namespace dmm::preload {

namespace {

enum Phase : int { kUnconstructed, kConstructed, kStarting, kStarted };
std::atomic<int> g_phase{kUnconstructed};

// The child of fork(): one thread, a copy of the parent's memory. Locks held by the parent's other threads would
// never be released here (their threads are gone): the table forgets those records. A start-up that another
// thread had under way is not started again: it was in the middle of library code (yaml-cpp's function-local
// statics, malloc'd state, ...) whose locks and "initialisation in progress" guards the child inherits held by a
// thread it does not have — starting again could wait for ever (it did: __cxa_guard_acquire in yaml-cpp). Such a
// child runs without DMM, with one line on stderr (before_fork makes this rare: only a start that takes longer
// than 2 s). Runs before fork() returns in the child.
void after_fork_in_child() {
  set_table_owner_pid();
  fd_table().reset_after_fork();
  nrd_subscription_after_fork_in_child();
  int starting = kStarting;
  if (g_phase.compare_exchange_strong(starting, kStarted, std::memory_order_acq_rel)) {
    static const char line[] =
        "dmm-preload: forked while another thread was starting DMM; this child runs without DMM\n";
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line, sizeof line - 1);
  }
}

long long monotonic_ms();

// Before fork: if another thread is starting the shim right now, let it finish first (bounded), so that the child
// inherits a whole shim rather than one half-built inside library code (see after_fork_in_child). Otherwise fork
// never waits for the shim. glibc runs this before it takes its own fork locks, so the starting thread can still
// allocate and load what it needs.
void before_fork() {
  if (g_phase.load(std::memory_order_acquire) != kStarting || inside_shim()) return;
  const long long deadline = monotonic_ms() + 2000;
  while (g_phase.load(std::memory_order_acquire) == kStarting && monotonic_ms() < deadline) sched_yield();
}

__attribute__((constructor)) void construct_shim() {
  real();  // resolve libc's entry points now, while dlsym is safe to call (not in a signal handler)
  set_table_owner_pid();
  pthread_atfork(before_fork, nullptr, after_fork_in_child);
  g_phase.store(kConstructed, std::memory_order_release);
}

long long monotonic_ms() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long long>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

}  // namespace

Shim* start_shim_if_due() {
  int phase = g_phase.load(std::memory_order_acquire);
  if (phase == kStarted) return active_shim();
  if (phase == kUnconstructed || inside_shim()) return nullptr;  // too early, or the starting thread itself
  if (phase == kConstructed &&
      g_phase.compare_exchange_strong(phase, kStarting, std::memory_order_acq_rel, std::memory_order_acquire)) {
    {
      InsideShim guard;  // loading the config and opening namespaces make socket calls of their own
      // Never destroyed (see shim_state.hpp); nullptr leaves the program in pass-through mode.
      install_shim(Shim::create_from_environment());
    }
    g_phase.store(kStarted, std::memory_order_release);
    return active_shim();
  }
  // Another thread is starting the shim (reading a small file, opening namespaces: milliseconds). Wait for it,
  // but boundedly: a signal handler that interrupted a thread holding a lock the starter needs must not hang
  // the program; its socket then simply stays where it is.
  const long long deadline = monotonic_ms() + 2000;
  while (g_phase.load(std::memory_order_acquire) == kStarting && monotonic_ms() < deadline) sched_yield();
  return active_shim();
}

}  // namespace dmm::preload
