#include "dmm/kernel/epoll_executor.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <cerrno>

#include "dmm/kernel/sys_error.hpp"

namespace dmm::kernel {
namespace {

constexpr std::uint64_t kWakeToken = 0;
constexpr std::uint64_t kTimerToken = 1;
constexpr int kPollPassesPerTurn = 16;

TimePoint monotonic_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

timespec to_timespec(TimePoint t) {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(t);
  return timespec{static_cast<time_t>(secs.count()), static_cast<long>((t - secs).count())};
}

Status add_to_epoll(int epoll, int fd, std::uint32_t events, std::uint64_t token) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = token;
  if (::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev) != 0) return last_sys_error("epoll_ctl(ADD)");
  return {};
}

}  // namespace

Result<std::unique_ptr<EpollExecutor>> EpollExecutor::create(int fd_floor) {
  UniqueFd epoll = moved_at_or_above(UniqueFd(::epoll_create1(EPOLL_CLOEXEC)), fd_floor);
  if (!epoll) return last_sys_error("epoll_create1");
  UniqueFd timer =
      moved_at_or_above(UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)), fd_floor);
  if (!timer) return last_sys_error("timerfd_create");
  UniqueFd wake = moved_at_or_above(UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), fd_floor);
  if (!wake) return last_sys_error("eventfd");
  if (Status s = add_to_epoll(epoll.get(), wake.get(), EPOLLIN, kWakeToken); !s) return s.error();
  if (Status s = add_to_epoll(epoll.get(), timer.get(), EPOLLIN, kTimerToken); !s) return s.error();
  return std::unique_ptr<EpollExecutor>(
      new EpollExecutor(std::move(epoll), std::move(timer), std::move(wake), monotonic_now()));
}

EpollExecutor::EpollExecutor(UniqueFd epoll, UniqueFd timer, UniqueFd wake, TimePoint start)
    : epoll_(std::move(epoll)), timer_(std::move(timer)), wake_(std::move(wake)), start_(start) {}

TimePoint EpollExecutor::now() const { return monotonic_now() - start_; }

void EpollExecutor::close_fds_in_forked_child() noexcept {
  // release(): the object itself is the parent's, never destroyed in the child; its numbers must not be closed
  // twice once the child reuses them.
  for (UniqueFd* fd : {&epoll_, &timer_, &wake_}) {
    const int number = fd->release();
    if (number >= 0) ::close(number);
  }
}

TimerId EpollExecutor::schedule(Duration delay, std::function<void()> fn) {
  if (delay < Duration::zero()) delay = Duration::zero();
  const TimerId id = next_timer_++;
  const TimePoint due = now() + delay;
  timers_.emplace(std::make_pair(due, id), std::move(fn));
  due_.emplace(id, due);
  return id;
}

void EpollExecutor::cancel(TimerId id) {
  const auto it = due_.find(id);
  if (it == due_.end()) return;
  // Absent from timers_ while its batch runs (see run_due_timers): erasing nothing is then fine.
  timers_.erase({it->second, id});
  due_.erase(it);
}

Status EpollExecutor::watch(int fd, std::uint32_t events, IoCallback callback) {
  if (tokens_.contains(fd)) return make_error(EEXIST, "fd " + std::to_string(fd) + " is already watched");
  const std::uint64_t token = next_token_++;
  if (Status s = add_to_epoll(epoll_.get(), fd, events, token); !s) return s;
  tokens_.emplace(fd, token);
  watches_.emplace(token, std::make_shared<Watch>(Watch{fd, std::move(callback)}));
  return {};
}

Status EpollExecutor::modify(int fd, std::uint32_t events) {
  const auto it = tokens_.find(fd);
  if (it == tokens_.end()) return make_error(ENOENT, "fd " + std::to_string(fd) + " is not watched");
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = it->second;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) return last_sys_error("epoll_ctl(MOD)");
  return {};
}

void EpollExecutor::unwatch(int fd) {
  const auto it = tokens_.find(fd);
  if (it == tokens_.end()) return;
  // Fails only if the fd was already closed, in which case epoll has dropped it (unless a dup lives on, which
  // the stale-token check in dispatch() covers).
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  watches_.erase(it->second);
  tokens_.erase(it);
}

void EpollExecutor::post(std::function<void()> fn) {
  {
    const std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  wake_loop();
}

void EpollExecutor::wake_loop() {
  const std::uint64_t one = 1;
  // Cannot fail short of an eventfd counter overflow (2^64 - 2 unread posts); a lost wake-up there is harmless
  // because the counter is then non-zero anyway.
  [[maybe_unused]] const ssize_t n = ::write(wake_.get(), &one, sizeof one);
}

void EpollExecutor::stop() {
  stop_.store(true, std::memory_order_release);
  wake_loop();
}

namespace {
// The loop lock of a shared loop, held for as long as the loop runs (turn() lets go around epoll_wait).
std::unique_lock<std::mutex> hold_if(bool shared, std::mutex& m) {
  return shared ? std::unique_lock<std::mutex>(m) : std::unique_lock<std::mutex>();
}
}  // namespace

Status EpollExecutor::run() {
  const auto hold = hold_if(shared_, loop_mutex_);
  while (!stop_.exchange(false, std::memory_order_acq_rel))
    if (Status s = turn(); !s) return s;
  return {};
}

bool EpollExecutor::run_until(const std::function<bool()>& done, Duration timeout) {
  const auto hold = hold_if(shared_, loop_mutex_);
  bool timed_out = false;
  const TimerId deadline = schedule(timeout, [&timed_out] { timed_out = true; });
  while (!done() && !timed_out && !stop_.exchange(false, std::memory_order_acq_rel))
    if (!turn()) break;
  cancel(deadline);
  return done();
}

Status EpollExecutor::turn() {
  arm_timer();
  // Block only when no timer is due: a zero-delay timer scheduled by a callback must not wait for I/O, but it
  // must not keep the loop from looking at I/O either (the poll below still happens, without blocking).
  std::array<epoll_event, 64> events;
  const int n = wait_for_events(events.data(), static_cast<int>(events.size()), wait_timeout_ms());
  if (n < 0 && errno != EINTR) return last_sys_error("epoll_wait");
  for (int i = 0; i < n; ++i) {
    const std::uint64_t token = events[static_cast<std::size_t>(i)].data.u64;
    if (token == kWakeToken) {
      std::uint64_t count = 0;
      [[maybe_unused]] const ssize_t r = ::read(wake_.get(), &count, sizeof count);
      run_posted();
    } else if (token == kTimerToken) {
      std::uint64_t expirations = 0;
      [[maybe_unused]] const ssize_t r = ::read(timer_.get(), &expirations, sizeof expirations);
      armed_for_ = TimePoint{-1};  // an absolute timer that fired is disarmed
    } else {
      dispatch(token, events[static_cast<std::size_t>(i)].events);
    }
  }
  // A busy poll-mode device gets several passes per look at fds and timers: a burst costs far less than the
  // epoll_wait and clock reads around it. Bounded, so fds and timers wait at most a few bursts.
  bool worked = false;
  for (int pass = 0; pass < kPollPassesPerTurn && run_pollers(); ++pass) worked = true;
  if (worked) last_poll_work_ = now();
  // Last, so that run_until sees a timer's effect (its own deadline included) before it would block again.
  run_due_timers();
  return {};
}

int EpollExecutor::wait_for_events(epoll_event* events, int capacity, int timeout_ms) {
  if (!shared_) return ::epoll_wait(epoll_.get(), events, capacity, timeout_ms);
  // Other threads may run loop work while this one waits. Whatever they leave due wakes us (finish_borrowed_turn);
  // a timer they schedule for later re-arms the timerfd, which is in this epoll set.
  loop_mutex_.unlock();
  const int n = ::epoll_wait(epoll_.get(), events, capacity, timeout_ms);
  const int saved = errno;
  loop_mutex_.lock();
  errno = saved;
  return n;
}

bool EpollExecutor::timer_due() const { return !timers_.empty() && timers_.begin()->first.first <= now(); }

void EpollExecutor::run_due_timers_a_few_times() {
  // A few passes: a flush scheduled by a deferred event runs too. Bounded like the loop's own turn, so that a
  // callback that keeps scheduling zero-delay work cannot hold this thread; the loop thread takes over the rest.
  constexpr int kPasses = 4;
  for (int pass = 0; pass < kPasses && timer_due(); ++pass) run_due_timers();
}

void EpollExecutor::finish_borrowed_turn() {
  run_due_timers_a_few_times();
  hand_timers_to_loop();
}

void EpollExecutor::hand_timers_to_loop() {
  arm_timer();
  if (timer_due()) wake_loop();
}

std::optional<EpollExecutor::Driven> EpollExecutor::drive_until(const std::function<bool()>& done, int fd,
                                                                short events, Duration timeout) {
  if (!shared_) return std::nullopt;
  enter_as_guest();
  if (driving_ || pollers_.empty() || poller_wake_fds_.size() != pollers_.size()) {
    leave_as_guest();
    return std::nullopt;
  }
  driving_ = true;
  const std::uint64_t pollers_at_start = pollers_changed_;
  set_wake_fds_watched(false);
  std::vector<pollfd> fds;
  std::vector<std::uint64_t> wake_tokens;
  for (const auto& [id, wake_fd] : poller_wake_fds_) {
    fds.push_back(pollfd{wake_fd, POLLIN, 0});
    wake_tokens.push_back(tokens_.at(wake_fd));
  }
  fds.push_back(pollfd{fd, events, 0});
  const bool limited = timeout > Duration::zero();
  const TimePoint deadline = limited ? now() + timeout : TimePoint{-1};
  std::optional<Driven> result = Driven::done;
  for (;;) {
    if (done()) break;
    if (limited && now() >= deadline) {
      result = Driven::timed_out;
      break;
    }
    if (pollers_changed_ != pollers_at_start) {  // changed by this drive's own pass: its wake fds are stale
      result = std::nullopt;
      break;
    }
    // The loop thread sleeps until its timerfd or a wake-up: whatever this pass scheduled must reach it.
    hand_timers_to_loop();
    leave_as_guest();
    timespec remaining{};
    if (limited) remaining = to_timespec(std::max(Duration::zero(), deadline - now()));
    const int n = ::ppoll(fds.data(), fds.size(), limited ? &remaining : nullptr, nullptr);
    const int error = errno;
    enter_as_guest();
    if (n < 0 && error == EINTR) continue;  // a signal handler ran; look again, as a restarted call would
    // ppoll itself failed (memory), or the pollers changed meanwhile (a wake fd this drive waits on may be closed,
    // its number reused): the caller waits its usual way instead.
    if (n < 0 || pollers_changed_ != pollers_at_start) {
      result = std::nullopt;
      break;
    }
    const short revents = fds.back().revents;
    if (revents & POLLNVAL) {
      result = Driven::fd_closed;
      break;
    }
    if (revents) {
      result = Driven::fd_ready;
      break;
    }
    // A socket error (a packet socket's interface set down) is read by the wake fd's watch, as in the loop's
    // own turn; left pending, every ppoll would return at once.
    for (std::size_t i = 0; i + 1 < fds.size(); ++i)
      if (fds[i].revents & POLLERR) dispatch(wake_tokens[i], EPOLLERR);
    for (int pass = 0; pass < kPollPassesPerTurn && run_pollers(); ++pass) {
    }
    run_due_timers_a_few_times();
  }
  set_wake_fds_watched(true);
  driving_ = false;
  finish_borrowed_turn();
  leave_as_guest();
  return result;
}

void EpollExecutor::set_wake_fds_watched(bool watched) {
  for (const auto& [id, wake_fd] : poller_wake_fds_) {
    if (!watched) {
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, wake_fd, nullptr);
      continue;
    }
    // Frames that came meanwhile and were not taken make the fd ready again here, which wakes the loop thread.
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tokens_.at(wake_fd);
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_fd, &ev);
  }
}

int EpollExecutor::wait_timeout_ms() const {
  if (timer_due()) return 0;
  if (pollers_.empty()) return -1;
  const bool wakeable = poller_wake_fds_.size() == pollers_.size();
  const Duration busy_for = wakeable ? poll_policy_.wakeable_busy_for : poll_policy_.busy_for;
  if (last_poll_work_ >= TimePoint::zero() && now() - last_poll_work_ < busy_for) return 0;
  if (wakeable) return -1;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(poll_policy_.idle_wakeup).count();
  return static_cast<int>(std::max<std::int64_t>(ms, 0));
}

EpollExecutor::PollerId EpollExecutor::add_poller(Poller poller, int wake_fd) {
  ++pollers_changed_;
  const PollerId id = next_poller_++;
  pollers_.emplace_back(id, std::make_shared<Poller>(std::move(poller)));
  // Level-triggered: readiness only ends epoll_wait, and the pollers run after. An error a socket reports (a
  // packet socket's interface set down: ENETDOWN) is read here, which clears it; left pending, it would end every
  // epoll_wait at once and spin the loop. The poller sees the interface's state its own way.
  auto on_ready = [wake_fd](std::uint32_t events) {
    if (!(events & EPOLLERR)) return;
    int error = 0;
    socklen_t length = sizeof error;
    (void)::getsockopt(wake_fd, SOL_SOCKET, SO_ERROR, &error, &length);
  };
  if (wake_fd >= 0 && watch(wake_fd, EPOLLIN, on_ready)) poller_wake_fds_[id] = wake_fd;
  return id;
}

void EpollExecutor::remove_poller(PollerId id) {
  ++pollers_changed_;
  std::erase_if(pollers_, [id](const auto& entry) { return entry.first == id; });
  if (auto it = poller_wake_fds_.find(id); it != poller_wake_fds_.end()) {
    unwatch(it->second);
    poller_wake_fds_.erase(it);
  }
}

bool EpollExecutor::run_pollers() {
  if (pollers_.empty()) return false;
  bool worked = false;
  // A copy of the handles (into a reused vector: this runs on every turn of a busy loop): a poller may add or
  // remove pollers, its own included, while it runs.
  poll_batch_.assign(pollers_.begin(), pollers_.end());
  for (const auto& [id, poller] : poll_batch_) {
    const bool still_there =
        std::any_of(pollers_.begin(), pollers_.end(), [id = id](const auto& entry) { return entry.first == id; });
    if (still_there && (*poller)()) worked = true;
  }
  poll_batch_.clear();
  return worked;
}

void EpollExecutor::run_due_timers() {
  // The batch is fixed before any callback runs, so that callbacks scheduling zero-delay timers (which are
  // due at once) cannot keep this loop from ever reaching epoll_wait.
  const TimePoint t = now();
  std::vector<std::pair<TimerId, std::function<void()>>> batch;
  while (!timers_.empty() && timers_.begin()->first.first <= t) {
    auto node = timers_.extract(timers_.begin());
    batch.emplace_back(node.key().second, std::move(node.mapped()));
  }
  for (auto& [id, fn] : batch) {
    if (due_.erase(id) == 0) continue;  // cancelled by an earlier callback of this batch
    fn();
  }
}

void EpollExecutor::arm_timer() {
  const TimePoint earliest = timers_.empty() ? TimePoint{-1} : timers_.begin()->first.first;
  if (earliest == armed_for_) return;
  // A timer already due runs in this turn, and epoll_wait does not block meanwhile (wait_timeout_ms): arming the
  // timerfd for it, and back for the next one afterwards, would cost two system calls per zero-delay timer (a
  // stack's deferred flush, once per burst). The timerfd keeps what it was armed for.
  if (earliest >= TimePoint::zero() && earliest <= now()) return;
  itimerspec spec{};
  // Absolute CLOCK_MONOTONIC time; a zero it_value disarms. A time already past fires at once.
  if (earliest >= TimePoint::zero()) {
    spec.it_value = to_timespec(start_ + earliest);
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  }
  if (::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) == 0) armed_for_ = earliest;
}

void EpollExecutor::run_posted() {
  std::vector<std::function<void()>> batch;
  {
    const std::lock_guard lock(posted_mutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

void EpollExecutor::dispatch(std::uint64_t token, std::uint32_t events) {
  const auto it = watches_.find(token);
  if (it == watches_.end()) return;  // unwatched earlier in this batch: a stale event
  // Held across the call: the callback may unwatch its own fd, which would otherwise destroy it mid-call.
  const std::shared_ptr<Watch> watch = it->second;
  watch->callback(events);
}

}  // namespace dmm::kernel
