#pragma once
// The real-time Executor of a host: one epoll loop, one timerfd armed for the earliest timer, one eventfd to wake
// the loop from other threads. Besides timers it dispatches I/O readiness of watched fds, which the kernel
// stack's connections and listeners use. The only place on hardware that reads a clock (CLOCK_MONOTONIC).
//
// Threads: the loop is an actor. run()/run_until(), schedule(), cancel(), watch(), modify() and unwatch() belong
// to the thread that runs the loop (or to any one thread while it is not running); every callback runs on it.
// post() and stop() may be called from any thread: they are how other threads get work onto the loop.
// A shared loop (share_loop()) also lets other threads run loop work themselves, under the loop lock (run_here).
#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dmm/executor.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"

namespace dmm::kernel {

class EpollExecutor final : public Executor {
public:
  // Called with the ready events (EPOLLIN, EPOLLOUT, EPOLLERR, ...) of a watched fd.
  using IoCallback = std::function<void(std::uint32_t events)>;
  // Called once per turn of the loop; returns whether it found work (poll-mode devices: DPDK queues).
  using Poller = std::function<bool()>;
  using PollerId = std::uint64_t;

  // How the loop treats pollers. Poll-mode devices raise no event, so the loop keeps turning without blocking
  // (busy polling) while pollers find work and for `busy_for` after the last work; after that it blocks as it
  // would without pollers, but at most `idle_wakeup` at a time, so an idle device is still looked at. The cost
  // is a spinning core while busy and up to `idle_wakeup` of added latency for the first packet after a pause.
  // When every poller has a wake fd, the loop polls for `wakeable_busy_for` after work (none by default) and then
  // sleeps until an fd, a timer or a post wakes it, as a loop without pollers does. Measured (issue 15, dmm-bench
  // lwip/apps on 2 cores): polling 50 us after work halved the core-API ping-pong latency (26 vs 49 us; the
  // kernel's 52) but cost 1.1x -> 2.7x the kernel's CPU per round trip through the shim, and 10-20 % of
  // redis-benchmark's and wrk's rate where client, server and stack share the cores; without it the CPU is 1.0x
  // (core API), 1.7-1.9x (shim, dmm-stackd).
  struct PollPolicy {
    Duration busy_for = std::chrono::milliseconds(2);
    Duration idle_wakeup = std::chrono::milliseconds(1);
    Duration wakeable_busy_for = Duration::zero();
  };

  // Fails only when the kernel refuses an epoll, timerfd or eventfd (fd limit, memory). `fd_floor` > 0: the three
  // fds get numbers from there up (high_fd_floor(): a library inside a program, whose fds the program does not
  // know of and may close — `os.closerange(3, 100)` — if they sit among its own small numbers).
  static Result<std::unique_ptr<EpollExecutor>> create(int fd_floor = 0);
  ~EpollExecutor() override = default;
  EpollExecutor(const EpollExecutor&) = delete;
  EpollExecutor& operator=(const EpollExecutor&) = delete;

  // Time since construction.
  TimePoint now() const override;
  // The loop's own fds (epoll, timerfd, eventfd): a forked child, where the loop's thread does not exist, closes
  // its copies (async-signal-safe: only close(2)).
  void close_fds_in_forked_child() noexcept;
  // CLOCK_MONOTONIC at construction: now() + this is the machine's monotonic time, which every process of the
  // host shares, so that logs of different processes (dmm-nrd's decision record, a test's client) line up.
  TimePoint monotonic_origin() const { return start_; }
  // Due timers run in due-time order, and in scheduling order among equal times. A timer scheduled from a
  // callback with zero delay runs after pending I/O has been looked at, so timers cannot starve I/O.
  TimerId schedule(Duration delay, std::function<void()> fn) override;
  void cancel(TimerId id) override;

  // Starts dispatching readiness of `fd` (EEXIST if it is already watched). `events` is an epoll mask and may
  // include EPOLLET. Unwatch before closing the fd: epoll tracks the open file, not the number, and a dup of the
  // fd would keep reporting a closed number's events.
  Status watch(int fd, std::uint32_t events, IoCallback callback);
  Status modify(int fd, std::uint32_t events);  // ENOENT if not watched
  // No callback for `fd` runs after this returns (events already fetched for it are dropped). No-op if unknown.
  void unwatch(int fd);
  bool watching(int fd) const { return tokens_.contains(fd); }

  // Any thread: runs `fn` on the loop, in posting order, after the callback that is running now (if any).
  void post(std::function<void()> fn);

  // ---- A shared loop (opt-in, before run()) ----
  // The loop thread then holds the loop lock whenever it is not waiting in epoll_wait, and any other thread may
  // take it (run_here) to run loop work itself: call the loop-thread methods, run stack code. This is lwIP's
  // "core locking" rather than its message passing: a program's thread that writes to a user-space connection
  // pushes the bytes into the stack and out of the port itself, where a post() would cost a wake-up of the loop
  // thread and a context switch for every write (issue 15: the shim's round trip cost 2.0x the kernel's CPU with
  // a hand-off per write). Callbacks then run on whichever thread holds the lock, so they must not depend on
  // running on the loop thread (thread-locals, signal masks).
  void share_loop() { shared_ = true; }

  // A shared loop's other threads may also wait for the pollers' frames themselves. A thread that would sleep
  // until a connection has news (a blocking read) drives the loop instead: it waits on the pollers' wake fds and
  // on `fd`, while the loop thread stops watching those wake fds (it keeps its timers, posts and other fds), and
  // runs the pollers and what they make due until `done()` holds (checked under the loop lock), `fd` shows one of
  // `events`, or `timeout` passes (zero: no limit). Why: otherwise a reply wakes the loop thread, which wakes the
  // reader — two wake-ups and two context switches per round trip where the kernel's own sockets need one
  // (issue 15: ping-pong through the shim at 1.8-2.0x the kernel's CPU). nullopt when this thread cannot drive:
  // the loop is not shared, another thread drives, a poller has no wake fd, or ppoll itself failed; the caller then
  // waits its usual way.
  enum class Driven { done, fd_ready, fd_closed, timed_out };
  std::optional<Driven> drive_until(const std::function<bool()>& done, int fd, short events, Duration timeout);
  // Any thread but one already holding the loop lock (a callback), while the loop is shared: runs `fn` under the
  // loop lock on this thread, then what it made due (zero-delay timers: a port's flush, deferred connection
  // events), re-arms the timer for the rest and wakes the loop thread if work is still due. Returns fn's result.
  template <typename Fn>
  auto run_here(Fn&& fn) -> decltype(fn()) {
    struct Turn {
      EpollExecutor& loop;
      explicit Turn(EpollExecutor& l) : loop(l) { loop.enter_as_guest(); }
      ~Turn() {
        loop.finish_borrowed_turn();
        loop.leave_as_guest();
      }
    } turn(*this);
    return fn();
  }
  // Called on a thread other than the loop's right before it takes the loop lock and right after it lets go of it
  // (run_here, drive_until; not while drive_until waits): a host marks such stretches as its own work (the preload
  // shim: the stack's socket calls are not the program's, but a signal handler that runs while a driver waits is).
  struct GuestHooks {
    void (*enter)() = nullptr;
    void (*leave)() = nullptr;
  };
  void set_guest_hooks(GuestHooks hooks) { guest_hooks_ = hooks; }
  // Any thread: makes the current run() return once the batch of callbacks it is in has finished (so that no
  // fetched edge-triggered event is lost), or the next run() return at once.
  void stop();

  // Dispatches until stop(). Fails only if epoll_wait itself fails (not for EINTR).
  Status run();
  // Dispatches until `done()` holds (checked after each batch of callbacks) or `timeout` passes, or stop() is
  // called; true iff `done()` holds. For tools and tests that wait for an outcome with a bounded deadline.
  bool run_until(const std::function<bool()>& done, Duration timeout);

  std::size_t pending_timers() const { return due_.size(); }

  // Loop thread: adds a poller (called on every turn from the next one on) / removes it (no call after this
  // returns, also when removed from inside a poller). `wake_fd` (-1: none) is watched for EPOLLIN while the poller
  // lives (the poller reads it; the watch only wakes the loop); the caller keeps it open until remove_poller.
  PollerId add_poller(Poller poller, int wake_fd = -1);
  void remove_poller(PollerId id);
  void set_poll_policy(PollPolicy policy) { poll_policy_ = policy; }

private:
  struct Watch {
    int fd;
    IoCallback callback;
  };

  EpollExecutor(UniqueFd epoll, UniqueFd timer, UniqueFd wake, TimePoint start);
  // One pass: one epoll_wait (blocking unless a timer is due), its events, then the timers due by then.
  Status turn();
  void run_due_timers();
  void arm_timer();
  void run_posted();
  void dispatch(std::uint64_t token, std::uint32_t events);
  // epoll_wait's timeout in ms for this turn: 0 when a timer is due or pollers are busy, else -1 or idle_wakeup.
  int wait_timeout_ms() const;
  bool run_pollers();  // one pass over every poller; whether any found work
  int wait_for_events(epoll_event* events, int capacity, int timeout_ms);  // epoll_wait, without the loop lock
  bool timer_due() const;       // the earliest timer's time has come
  void run_due_timers_a_few_times();  // another thread's share of the due timers (bounded)
  void finish_borrowed_turn();  // run_here's end (loop lock held)
  // The hooks bracket the lock, so that a signal handler never runs on a thread that holds the loop lock without
  // the host knowing (the shim would otherwise serve the handler's socket calls with stack work: a self-deadlock).
  void enter_as_guest() {
    if (guest_hooks_.enter) guest_hooks_.enter();
    loop_mutex_.lock();
  }
  void leave_as_guest() {
    loop_mutex_.unlock();
    if (guest_hooks_.leave) guest_hooks_.leave();
  }
  void set_wake_fds_watched(bool watched);  // drive_until: the pollers' wake fds in or out of the loop's epoll
  void hand_timers_to_loop();  // another thread's turn ends: the timerfd armed for what it left, woken if due
  void wake_loop();             // the eventfd: the loop thread ends its epoll_wait

  UniqueFd epoll_;
  UniqueFd timer_;  // CLOCK_MONOTONIC, absolute, armed for the earliest timer
  UniqueFd wake_;   // eventfd written by post() and stop()
  TimePoint start_;  // CLOCK_MONOTONIC at construction

  // Keyed by (due time, id) so that equal times keep their scheduling order (as EventQueueExecutor does).
  std::map<std::pair<TimePoint, TimerId>, std::function<void()>> timers_;
  std::unordered_map<TimerId, TimePoint> due_;  // live timers; a cancelled one is absent
  TimerId next_timer_ = 1;
  TimePoint armed_for_{-1};  // what the timerfd is set to; -1 = disarmed

  // epoll carries a token, not the fd, so that an event fetched for an fd that was unwatched (and its number
  // reused) in the same batch is recognised as stale and dropped.
  std::unordered_map<int, std::uint64_t> tokens_;                      // fd -> token
  std::unordered_map<std::uint64_t, std::shared_ptr<Watch>> watches_;  // token -> watch
  std::uint64_t next_token_ = 2;                                       // 0: wake_, 1: timer_

  std::vector<std::pair<PollerId, std::shared_ptr<Poller>>> pollers_;
  std::unordered_map<PollerId, int> poller_wake_fds_;  // the pollers that have one

  std::vector<std::pair<PollerId, std::shared_ptr<Poller>>> poll_batch_;  // run_pollers' scratch
  PollerId next_poller_ = 1;
  PollPolicy poll_policy_;
  TimePoint last_poll_work_{-1};

  bool shared_ = false;
  GuestHooks guest_hooks_;
  bool driving_ = false;   // a thread other than the loop's waits for the pollers' frames (drive_until)
  std::uint64_t pollers_changed_ = 0;  // add_poller/remove_poller calls: a drive ends when its wake fds change
  std::mutex loop_mutex_;  // shared loop: held by whoever runs loop work (the loop thread outside epoll_wait)

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by posted_mutex_
  std::atomic<bool> stop_{false};
};

}  // namespace dmm::kernel
