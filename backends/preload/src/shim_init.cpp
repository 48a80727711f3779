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

#include "connect_race.hpp"
#include "fd_table.hpp"
#include "nrd_subscription.hpp"
#include "real_calls.hpp"
#include "shim_guard.hpp"
#include "shim_state.hpp"

namespace dmm::preload {

namespace {

enum Phase : int { kUnconstructed, kConstructed, kStarting, kStarted };
// Sequentially consistent throughout: start-up and fork meet Dekker-style (each publishes its own flag, then
// looks at the other's), so that one of them always sees the other.
std::atomic<int> g_phase{kUnconstructed};
std::atomic<int> g_forks{0};               // forks under way in this process (between prepare and parent handlers)
std::atomic<bool> g_start_work{false};     // the starter is past the point of no return: inside library code

long long monotonic_ms() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long long>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

// Waits (yielding, at most 2 s) while `busy()` holds.
template <typename Busy>
void wait_while(Busy&& busy) {
  const long long deadline = monotonic_ms() + 2000;
  while (busy() && monotonic_ms() < deadline) sched_yield();
}

// Fork and start-up must not overlap: a child forked while another thread is inside the start (loading the
// config with yaml-cpp, opening namespaces, loading a plug-in) inherits library state "being initialised" by a
// thread it does not have — function-local statics' guards, locks — and starting again there hangs (it did:
// __cxa_guard_acquire in yaml-cpp). So fork waits for a start under way (milliseconds; bounded), and a start
// waits for forks under way. Otherwise fork never waits for the shim. glibc runs the prepare handler before it
// takes its own fork locks, so the starter can still allocate and load what it needs.
void before_fork() {
  g_forks.fetch_add(1);
  races_note_fork();
  wait_while([] { return g_phase.load() == kStarting; });
}

void after_fork_in_parent() { g_forks.fetch_sub(1); }

// The child of fork(): one thread, a copy of the parent's memory. Locks held by the parent's other threads would
// never be released here (their threads are gone): the table forgets those records. A start the parent had only
// claimed (not begun) is started again by the child when needed; one already inside library code (only after the
// 2 s bound of before_fork) cannot be: that child runs without DMM, with one line on stderr. Runs before fork()
// returns in the child.
void after_fork_in_child() {
  set_table_owner_pid();
  fd_table().reset_after_fork();
  nrd_subscription_after_fork_in_child();
  races_after_fork_in_child();
  if (Shim* shim = active_shim()) shim->after_fork_in_child();
  g_forks.store(0);
  if (g_phase.load() == kStarting) {
    if (!g_start_work.load()) {
      g_phase.store(kConstructed);
    } else {
      g_phase.store(kStarted);  // active_shim() stays null: pass-through
      static const char line[] =
          "dmm-preload: forked while another thread was starting DMM; this child runs without DMM\n";
      [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line, sizeof line - 1);
    }
  }
}

__attribute__((constructor)) void construct_shim() {
  real();  // resolve libc's entry points now, while dlsym is safe to call (not in a signal handler)
  set_table_owner_pid();
  pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
  g_phase.store(kConstructed);
}

}  // namespace

Shim* start_shim_if_due() {
  for (;;) {
    int phase = g_phase.load();
    if (phase == kStarted) return active_shim();
    if (phase == kUnconstructed || inside_shim()) return nullptr;  // too early, or the starting thread itself
    if (phase == kConstructed && g_phase.compare_exchange_strong(phase, kStarting)) {
      if (g_forks.load() != 0) {
        // Another thread is forking: it goes first (see before_fork); claim the start again after it.
        g_phase.store(kConstructed);
        wait_while([] { return g_forks.load() != 0; });
        continue;
      }
      g_start_work.store(true);
      {
        InsideShim guard;  // loading the config and opening namespaces make socket calls of their own
        // Never destroyed (see shim_state.hpp); nullptr leaves the program in pass-through mode.
        install_shim(Shim::create_from_environment());
      }
      g_phase.store(kStarted);
      return active_shim();
    }
    if (phase == kConstructed) continue;  // lost the claim to another thread (or a fork's revert): look again
    // Another thread is starting the shim (reading a small file, opening namespaces: milliseconds). Wait for it,
    // but boundedly: a signal handler that interrupted a thread holding a lock the starter needs must not hang
    // the program; its socket then simply stays where it is.
    wait_while([] { return g_phase.load() == kStarting; });
    return active_shim();
  }
}

}  // namespace dmm::preload
