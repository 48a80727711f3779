#pragma once
// The real-time Executor of a host: one epoll loop, one timerfd armed for the earliest timer, one eventfd to wake
// the loop from other threads. Besides timers it dispatches I/O readiness of watched fds, which the kernel
// stack's connections and listeners use. The only place on hardware that reads a clock (CLOCK_MONOTONIC).
//
// Threads: the loop is an actor. run()/run_until(), schedule(), cancel(), watch(), modify() and unwatch() belong
// to the thread that runs the loop (or to any one thread while it is not running); every callback runs on it.
// post() and stop() may be called from any thread: they are how other threads get work onto the loop.
#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
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

  // Fails only when the kernel refuses an epoll, timerfd or eventfd (fd limit, memory).
  static Result<std::unique_ptr<EpollExecutor>> create();
  ~EpollExecutor() override = default;
  EpollExecutor(const EpollExecutor&) = delete;
  EpollExecutor& operator=(const EpollExecutor&) = delete;

  // Time since construction.
  TimePoint now() const override;
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

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by posted_mutex_
  std::atomic<bool> stop_{false};
};

}  // namespace dmm::kernel
