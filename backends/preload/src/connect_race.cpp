#include "connect_race.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <new>
#include <memory>
#include <vector>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/nsocket.hpp"
#include "race_learning.hpp"
#include "race_user_attempt.hpp"
#include "real_calls.hpp"
#include "record_ops.hpp"
#include "service_fd.hpp"
#include "service_link.hpp"
#include "shim_guard.hpp"
#include "socket_swap.hpp"
#include "user_stacks.hpp"

namespace dmm::preload {
namespace {

std::atomic<int> g_races{0};
std::atomic<std::uint32_t> g_next_serial{0};
// Counted in the parent at every fork: a race that began before a fork shares its first socket with the child,
// and must not shut it down.
std::atomic<std::uint64_t> g_forks{0};

// Every fd the racer owns (private attempts, copies of programs' sockets, a blocking race's wake-up fd), so that
// a forked child, which inherits them but not the racer, closes them (a connection the child cannot use must not
// stay open through it). Lock-free: registered from the racer and program threads, closed in the atfork handler.
constexpr std::size_t kOwnedSlots = 256;
std::array<std::atomic<int>, kOwnedSlots> g_owned{};  // 0 = free; else fd + 1

void own(int fd) {
  for (auto& slot : g_owned) {
    int expected = 0;
    if (slot.compare_exchange_strong(expected, fd + 1, std::memory_order_relaxed)) return;
  }
  // Full (256 racing sockets at once): this one is simply not closed in a forked child.
}

void close_owned(int fd) {
  if (fd < 0) return;
  for (auto& slot : g_owned) {
    int expected = fd + 1;
    if (slot.compare_exchange_strong(expected, 0, std::memory_order_relaxed)) break;
  }
  real().close(fd);
}

// A number out of the program's way for a descriptor of the racer's; the original is closed. -1 if none.
int moved_high(int fd) {
  if (fd < 0) return -1;
  const int high = real().fcntl(fd, F_DUPFD_CLOEXEC, kernel::high_fd_floor());
  if (high >= 0) {
    real().close(fd);
    fd = high;
  }
  own(fd);
  return fd;
}

// A stack an attempt can be made on: a usable kernel instance (a plain kernel socket), a user-space instance that
// dmm-stackd runs (a session of the daemon's; the host config has `service:`), or one that runs inside the program
// (a UserSession of its stack thread: race_user_attempt.hpp).
bool kernel_instance(const ShimStack& stack) { return stack.usable && stack.sockets && !stack.user_space && !stack.served; }
bool served_instance(const ShimStack& stack) {
  Shim* shim = active_shim();
  return stack.usable && stack.served && shim && shim->sources().service() != nullptr;
}
bool raceable(const ShimStack& stack) {
  return kernel_instance(stack) || served_instance(stack) || in_program_instance(stack);
}

int tcp_state(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  return real().getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 ? info.tcpi_state : -1;
}

bool established(int fd) { return tcp_state(fd) == TCP_ESTABLISHED; }

// A connecting socket whose error is not ours to read (the program's, or a verdict's) has failed: its events or its
// TCP state say so.
bool failed_without_reading(int fd, std::uint32_t events) {
  return (events & (EPOLLERR | EPOLLHUP)) || tcp_state(fd) == TCP_CLOSE;
}

// How a blocking connect's race ended, for the program's thread waiting in connect(). The racer writes one byte to
// `wake_write`; the program waits in read() on `wake_read`, whose SO_RCVTIMEO is the program's SO_SNDTIMEO: the
// kernel then applies to that wait exactly the rules it applies to a connect — restarted after a signal whose
// handler has SA_RESTART, EINTR otherwise, never restarted when a timeout is set. `detached`: the program stopped
// waiting (EINTR, SO_SNDTIMEO) and sees its socket as a non-blocking program would, until it calls connect again.
struct BlockingWait {
  BlockingWait(int read_end, int write_end) : wake_read(read_end), wake_write(write_end) {}
  ~BlockingWait() {
    close_owned(wake_read);
    close_owned(wake_write);
  }
  BlockingWait(const BlockingWait&) = delete;
  BlockingWait& operator=(const BlockingWait&) = delete;
  const int wake_read;
  const int wake_write;
  std::atomic<bool> detached{false};
  std::atomic<int> result{0};  // 0 running, 1 won, 2 failed
  std::atomic<int> error{0};   // 0 with result 2: the first attempt's own error decided (in its SO_ERROR)
  std::atomic<int> last_rank{0};
  // The race was given up before an outcome (the fd closed or dup'ed meanwhile, memory): the waiter waits for the
  // first attempt itself, as the kernel waits for a connect in progress (wait_for_first).
  std::atomic<bool> abandoned{false};
  // The first attempt failed while the waiter was attached, and the racer took its error from its SO_ERROR (under
  // the slot lock, which the waiter takes to detach): a waiter that detaches after that reports it (the connect
  // has failed), not EINTR/EINPROGRESS.
  std::atomic<int> first_attempt_error{0};
  // The error the program is to read is in the SO_ERROR of the socket now behind its fd (a verdict's), not in the
  // first attempt's session.
  std::atomic<bool> error_behind_fd{false};
  // The first attempt, for that wait: the program's socket (its identity) and the destination.
  dev_t dev = 0;
  ino_t ino = 0;
  sockaddr_storage address{};
  socklen_t length = 0;
};

// The blocking races running now, by race serial: a program that calls connect() again on such a fd (after EINTR)
// waits for the same race.
std::mutex g_waits_mutex;
std::map<std::uint32_t, std::weak_ptr<BlockingWait>> g_waits;

std::shared_ptr<BlockingWait> wait_of(std::uint32_t serial) {
  std::lock_guard lock(g_waits_mutex);
  auto it = g_waits.find(serial);
  return it == g_waits.end() ? nullptr : it->second.lock();
}

// When every attempt failed, the program gets the most telling error: the destination's refusal (it answered),
// then what else came from the destination or its path (a timeout, unreachable; 0: the first attempt's own, left
// in its SO_ERROR), then a stack's own "no route here". Among equals, the latest.
int weight(int err) {
  if (err == ECONNREFUSED) return 3;
  if (err != ENETUNREACH && err != EIO) return 2;
  return 1;
}

// What a race needs to know, taken from the decision while the caller still runs in connect().
struct RaceSetup {
  int fd = -1;
  FdSlot* slot = nullptr;
  std::uint32_t serial = 0;  // the record's race_serial while this race may replace its socket
  std::uint64_t first_session = 0;  // the first attempt is a dmm-stackd session (the fd is its end), else 0
  std::shared_ptr<UserSession> first_user;  // the first attempt is a session of an instance inside the program
  dev_t dev = 0;             // the program's socket (the first attempt)
  ino_t ino = 0;
  int domain = 0;
  int protocol = 0;
  sockaddr_storage address{};
  socklen_t length = 0;
  Endpoint destination;
  Choice choice;
  int first_rank = 0;
  FileState program_state;  // the program's flags and FD_CLOEXEC at the connect
  TimePoint connect_at{0};  // when the program called connect (the racer loop's clock): attempt 0 started then
  std::uint64_t forks_at_start = 0;
  std::shared_ptr<BlockingWait> wait;  // set for a blocking connect
  std::string dst;
  std::string intent;
};

struct RaceAttempt {
  int rank = 0;
  int stack = 0;
  int fd = -1;  // a private socket, or (attempt 0) the racer's copy of the program's socket; the race closes it
  bool running = true;
  Duration started{0};
  std::string outcome = "connecting";
  std::uint64_t session = 0;  // a dmm-stackd session (fd is its end): how it goes is the daemon's to say
  // A session of a user-space instance inside the program (fd is its application end): how it goes is the
  // session's to say. Attempt 0's is the program's own; a later one's is the race's until it wins.
  std::shared_ptr<UserSession> user;
  // A second ask of a stack that refused, while the others stay silent: if refused again, this socket goes behind
  // the program's fd with its refusal unread, for the program to read as from its own (arm_verdict).
  bool verdict = false;
};

// One race on the racer's loop (an actor: every method runs on the loop thread).
class ConnectRace {
public:
  ConnectRace(kernel::EpollExecutor& loop, RaceLearning& learning, RaceSetup setup, int first_copy)
      : loop_(loop), learning_(learning), setup_(std::move(setup)), opened_(setup_.connect_at) {
    attempts_.push_back({setup_.first_rank, setup_.choice.ranked[static_cast<std::size_t>(setup_.first_rank)],
                         first_copy, true, Duration::zero(), "connecting", setup_.first_session, setup_.first_user});
    next_rank_ = setup_.first_rank + 1;
  }
  ~ConnectRace() {
    loop_.cancel(stagger_);
    loop_.cancel(check_);
    loop_.cancel(verdict_);
    end_all("lost");
  }
  ConnectRace(const ConnectRace&) = delete;
  ConnectRace& operator=(const ConnectRace&) = delete;

  // Called (from the loop, after the callback that ended the race) once the race is over.
  std::function<void()> on_finished;

  void start() {
    guarded([&] {
      watch(0);
      if (finished_) return;
      if (setup_.choice.race == RaceMode::simultaneous) {
        while (!finished_ && has_candidate()) start_next();
      } else {
        arm_stagger();
      }
      arm_check();
    });
  }
  bool finished() const { return finished_; }
  void abandon(const std::string& why) {
    if (finished_) return;
    if (setup_.wait) setup_.wait->abandoned.store(true);
    end_all("lost");
    finish(-1, why);
  }

private:
  // A program's socket must not be lost to an allocation failure on the racer's thread: the race ends instead.
  template <typename Fn>
  void guarded(Fn&& fn) {
    try {
      fn();
    } catch (...) {
      abandon("out of memory while racing");
    }
  }

  bool blocking_attached() const { return setup_.wait && !setup_.wait->detached.load(std::memory_order_acquire); }

  bool has_candidate() const {
    for (int r = next_rank_; r < setup_.choice.healthy_count; ++r)
      if (raceable(active_shim()->stack(setup_.choice.ranked[static_cast<std::size_t>(r)]))) return true;
    return false;
  }

  void watch(std::size_t i) {
    // A daemon's session end, or a user session's application end, turns readable when the session failed: that
    // is news too.
    const bool session_end = attempts_[i].session != 0 || attempts_[i].user;
    const std::uint32_t events = EPOLLOUT | EPOLLERR | EPOLLHUP | (session_end ? EPOLLIN : 0u);
    const Status watched = loop_.watch(attempts_[i].fd, events,
                                       [this, i](std::uint32_t events) { guarded([&] { on_ready(i, events); }); });
    if (!watched) attempt_failed(i, watched.error().code != 0 ? watched.error().code : EIO);
  }

  void arm_stagger() {
    loop_.cancel(stagger_);
    stagger_ = 0;
    if (finished_ || !has_candidate()) return;
    const std::optional<Duration> rtt = learning_.rtt(static_cast<StackIndex>(attempts_.back().stack));
    stagger_ = loop_.schedule(resolve_attempt_delay(setup_.choice.attempt_delay, rtt), [this] {
      stagger_ = 0;
      guarded([&] {
        start_next();
        if (!finished_ && setup_.choice.race == RaceMode::staggered) arm_stagger();
      });
    });
  }

  // Every 100 ms: is the program's fd still the socket this race may replace? A close, a dup or the number taken
  // by another socket ends the race (close() itself tells no one: it may run in a signal handler or a vfork child).
  void arm_check() {
    check_ = loop_.schedule(std::chrono::milliseconds(100), [this] {
      check_ = 0;
      if (finished_) return;
      guarded([&] {
        if (!still_ours()) {
          abandon("the program closed or duplicated its socket");
          return;
        }
        arm_check();
      });
    });
  }

  // The state the program's fd has while its first attempt is behind it.
  FdState first_state() const {
    return setup_.first_session != 0 ? FdState::service : setup_.first_user ? FdState::user : FdState::placed;
  }

  bool still_ours() {
    FdSlot& slot = *setup_.slot;
    SlotLock lock(slot, SlotLock::TryOnly{});
    if (!lock.held()) return true;  // the program is busy with it: look again next time
    const FdRecord& rec = slot.record;
    return slot.state.load(std::memory_order_relaxed) == first_state() && rec.race_serial == setup_.serial &&
           rec.dev == setup_.dev && rec.ino == setup_.ino;
  }

  // Starts a private attempt on the next raceable ranked stack (skipping ones that cannot be tried).
  void start_next() {
    Shim& shim = *active_shim();
    while (!finished_ && next_rank_ < setup_.choice.healthy_count) {
      const int rank = next_rank_++;
      const int stack = setup_.choice.ranked[static_cast<std::size_t>(rank)];
      if (!raceable(shim.stack(stack))) continue;
      attempts_.push_back({rank, stack, -1, true, loop_.now() - opened_, "connecting", 0});
      const std::size_t i = attempts_.size() - 1;
      if (served_instance(shim.stack(stack))) {
        if (!open_served(i)) continue;
        watch(i);
        return;
      }
      if (in_program_instance(shim.stack(stack))) {
        if (!open_user(i)) continue;
        watch(i);
        return;
      }
      const int err = begin_kernel_attempt(i);
      if (err == EINPROGRESS || err == 0) return;  // connecting (watched), or won at once
      if (err > 0) note_error(err);
    }
    if (!finished_ && running() == 0) finish(-1, "every attempt failed");
  }

  // Makes kernel attempt i's socket and connects it: EINPROGRESS (connecting, watched), 0 (connected at once: won),
  // the errno with which the connect failed at once (the attempt ended), or -1 (no socket: the attempt ended).
  int begin_kernel_attempt(std::size_t i) {
    const int made = make_attempt_socket(active_shim()->stack(attempts_[i].stack), attempts_[i].outcome);
    if (made < 0) {
      attempts_[i].running = false;
      return -1;
    }
    attempts_[i].fd = made;
    if (real().connect(made, reinterpret_cast<const sockaddr*>(&setup_.address), setup_.length) == 0) {
      win(i);
      return 0;
    }
    const int err = errno;
    if (err == EINPROGRESS) {
      watch(i);
      return err;
    }
    attempts_[i].running = false;
    attempts_[i].outcome = attempt_outcome(make_error(err, ""));
    close_attempt(i);
    return err;
  }

  // A session of dmm-stackd's on served instance attempts_[i].stack, connecting: its end (an AF_UNIX socket the
  // daemon turns writable once the handshake is over) is what the race watches. False, the attempt failed, if the
  // daemon cannot open it.
  bool open_served(std::size_t i) {
    RaceAttempt& a = attempts_[i];
    ServiceLink* link = active_shim()->sources().service();
    ServiceLink::Failure failure = ServiceLink::Failure::none;
    auto opened = [&] {
      InsideShim guard;
      return link->open_session(active_shim()->stack(a.stack).name, L4Proto::tcp, setup_.destination,
                                /*nonblocking=*/true, failure);
    }();
    if (!opened) {
      // As a placement says it (placement.cpp): a daemon that cannot be reached, or refuses for its own reasons,
      // is this stack having no path.
      const int code = opened.error().code;
      const bool path = failure != ServiceLink::Failure::refused || code == EOPNOTSUPP || code == ENOENT;
      a.running = false;
      a.outcome = attempt_outcome(opened.error());
      note_error(path || code == 0 ? ENETUNREACH : code);
      return false;
    }
    a.session = opened->session;
    a.fd = moved_high(opened->fd.release());
    return true;
  }

  // A session on user-space instance attempts_[i].stack inside the program, connecting: the race holds its
  // application end. False, the attempt failed, if it cannot be opened (ENETUNREACH: the instance has no route).
  bool open_user(std::size_t i) {
    RaceAttempt& a = attempts_[i];
    Result<UserAttempt> opened = open_user_attempt(active_shim()->stack(a.stack), setup_.destination);
    if (!opened) {
      a.running = false;
      a.outcome = attempt_outcome(opened.error());
      note_error(opened.error().code != 0 ? opened.error().code : EIO);
      return false;
    }
    a.user = std::move(opened->session);
    a.fd = moved_high(opened->app_fd);
    return true;
  }

  // How a served attempt stands, by the daemon's word: 0 connecting, 1 established, -errno failed.
  int served_state(const RaceAttempt& a) {
    ServiceLink* link = active_shim()->sources().service();
    ServiceLink::Failure failure = ServiceLink::Failure::none;
    auto status = [&] {
      InsideShim guard;
      return link->status(a.session, failure);
    }();
    if (!status) return -EIO;  // the daemon is gone: its session with it
    switch (status->state) {
      case service::SessionState::connecting: return 0;
      case service::SessionState::established: return 1;
      case service::SessionState::failed: return -(status->error != 0 ? status->error : EIO);
      case service::SessionState::closed: return -ECONNRESET;
    }
    return 0;
  }

  // A socket of `stack` for a private attempt: non-blocking, close-on-exec, the program's options replayed, at a
  // number out of the program's way. -1 with `outcome` set when it cannot be made.
  int make_attempt_socket(const ShimStack& stack, std::string& outcome) {
    Result<int> made = [&] {
      InsideShim guard;
      return stack.create_socket(setup_.domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, setup_.protocol);
    }();
    if (!made) {
      note_error(made.error().code != 0 ? made.error().code : EIO);
      outcome = attempt_outcome(made.error());
      return -1;
    }
    const int fd = moved_high(*made);
    FdSlot& slot = *setup_.slot;
    SlotLock lock(slot);
    if (!lock.reentered() && slot.record.race_serial == setup_.serial) (void)replay_options(slot.record, setup_.fd, fd);
    return fd;
  }

  void on_ready(std::size_t i, std::uint32_t events) {
    if (finished_ || !attempts_[i].running) return;
    // The first attempt is the program's own socket: reading its SO_ERROR would take the error from the program,
    // which reads it itself (a non-blocking one, or a blocking one that stopped waiting; a waiting one reads it when
    // the race's word comes). Its events and TCP state say enough.
    if (attempts_[i].user) {
      // The session says: established, failed (attempt 0's error stays in it for the program's SO_ERROR), or
      // still connecting (an event that was not the outcome).
      const int state = attempts_[i].user->connect_state();
      if (state == 1) {
        win(i);
      } else if (state < 0) {
        attempt_failed(i, i == 0 ? 0 : -state, -state);
      }
      return;
    }
    if (i == 0 && attempts_[0].session == 0) {
      if (failed_without_reading(attempts_[0].fd, events)) {
        attempt_failed(0, 0, first_attempt_error());
      } else if (events & EPOLLOUT) {
        win(0);
      }
      return;
    }
    if (attempts_[i].session != 0) {
      // The daemon made its end writable (established) or readable (failed): it says which.
      const int state = served_state(attempts_[i]);
      if (state == 1) {
        win(i);
      } else if (state < 0) {
        attempt_failed(i, -state);
      }
      return;  // still connecting: an end written to early; the next event tells
    }
    if (attempts_[i].verdict) {
      // Its error is the program's to read: the state says enough.
      if (failed_without_reading(attempts_[i].fd, events)) {
        deliver_refusal(i);
      } else if (events & EPOLLOUT) {
        win(i);  // the port opened meanwhile
      }
      return;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (real().getsockopt(attempts_[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0 && (events & (EPOLLERR | EPOLLHUP)) == 0) {
      win(i);
      return;
    }
    attempt_failed(i, err != 0 ? err : ECONNRESET);
  }

  // The failed first attempt's error, if a blocking connect still waits for the race: taken from its SO_ERROR under
  // the slot lock (a waiter detaches under it) and handed to the waiter, which reports it whether the race's word
  // or its own detaching comes first. 0 (left for the program to read) when nobody waits.
  int first_attempt_error() {
    if (!setup_.wait) return 0;
    SlotLock lock(*setup_.slot);
    if (lock.reentered() || !blocking_attached()) return 0;
    int err = 0;
    socklen_t len = sizeof err;
    if (real().getsockopt(attempts_[0].fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return 0;
    if (err != 0) setup_.wait->first_attempt_error.store(err);
    return err;
  }

  // `err` 0: failed, the error left for the program to read (`cause`, if known, says which for the breaker and the
  // error to report).
  void attempt_failed(std::size_t i, int err, int cause = 0) {
    RaceAttempt& a = attempts_[i];
    a.running = false;
    a.outcome = err != 0 ? attempt_outcome(make_error(err, "")) : "failed";
    const int known = err != 0 ? err : cause;
    if (known != 0) failures_.push_back({a.stack, known});
    // start_next() below may grow attempts_: what is needed of `a` afterwards is copied now.
    const int rank = a.rank;
    const int stack = a.stack;
    const bool kernel_attempt = a.session == 0 && !a.user && !a.verdict;
    note_error(known);
    close_attempt(i);
    // What a non-blocking program waits on is its own socket: it reads that error itself, the race is over.
    if (i == 0 && !blocking_attached()) {
      end_all("lost");
      finish(-1, "the first attempt failed and the program sees it");
      return;
    }
    // RFC 8305: a failed attempt does not wait out the delay, the next one starts now.
    loop_.cancel(stagger_);
    stagger_ = 0;
    start_next();
    if (!finished_ && setup_.choice.race == RaceMode::staggered) arm_stagger();
    if (!finished_ && running() == 0) finish(-1, "every attempt failed");
    // A refusal while the others have not answered: the destination's answer, once they look silent.
    if (!finished_ && known == ECONNREFUSED && (i == 0 || kernel_attempt)) arm_verdict(i == 0 ? -1 : rank, stack);
  }

  // A later stack refused — the destination answered there — while the attempts still running have not: once they
  // have been unanswered long enough to look silent (race_learning.hpp), the refusal is the answer. Without this, a
  // closed port behind a silent first stack would keep the program waiting for that stack's SYNs to time out
  // (curl: its whole --connect-timeout) and then report a timeout. The refusing stack is asked once more, and its
  // refused socket goes behind the program's fd, the error unread: the program reads ECONNREFUSED as from its own.
  void arm_verdict(int rank, int stack) {
    loop_.cancel(verdict_);
    const Duration now = loop_.now() - opened_;
    Duration due{0};
    for (const RaceAttempt& a : attempts_)
      if (a.running) due = std::max(due, silent_at(a));
    verdict_ = loop_.schedule(std::max(Duration::zero(), due - now), [this, rank, stack] {
      verdict_ = 0;
      guarded([&] {
        if (finished_) return;
        // Attempts started meanwhile (another stack) get their time too.
        const Duration later = loop_.now() - opened_;
        for (const RaceAttempt& a : attempts_)
          if (a.running && later < silent_at(a)) {
            arm_verdict(rank, stack);
            return;
          }
        if (rank < 0) {
          // The first attempt's own refusal, which the waiting connect reports (note_error has it).
          end_all("lost");
          finish(-1, refused_on(stack));
          return;
        }
        start_verdict(rank, stack);
      });
    });
  }

  // When attempt `a`, unanswered until then, looks silent (since the race opened).
  Duration silent_at(const RaceAttempt& a) const {
    return a.started + learning_.silent_after(static_cast<StackIndex>(a.stack), setup_.choice.attempt_delay);
  }

  void start_verdict(int rank, int stack) {
    attempts_.push_back({rank, stack, -1, true, loop_.now() - opened_, "connecting", 0, nullptr, /*verdict=*/true});
    // Not made, or answered at once (nothing left to put behind the fd): the race goes on as it was.
    (void)begin_kernel_attempt(attempts_.size() - 1);
  }

  // The verdict attempt i was refused again: it goes behind the program's fd, its error unread, and the race ends.
  void deliver_refusal(std::size_t i) {
    // An attempt that connected meanwhile (news in the same batch) is the better answer.
    for (std::size_t j = 0; j < attempts_.size(); ++j)
      if (j != i && attempts_[j].running && connected_now(j)) {
        win(j);
        return;
      }
    switch (install(i)) {
      case Installed::yes: break;
      case Installed::first_connected: win(0); return;
      case Installed::no: abandon("the program's socket changed meanwhile"); return;
    }
    if (setup_.wait) setup_.wait->error_behind_fd.store(true);
    attempts_[i].running = false;
    attempts_[i].outcome = "refused";
    release_first();
    close_attempt(i);  // the program's fd holds it now
    end_all("lost");
    noted_ = true;
    last_error_ = 0;
    first_error_ = true;  // the program reads the refusal from its fd
    finish(-1, refused_on(attempts_[i].stack));
  }

  static std::string refused_on(int stack) {
    return "refused on " + active_shim()->stack(stack).name + "; the others stayed silent";
  }

  // The error to return if every attempt fails (weight(): 0 is the first attempt's own, the program reads it from
  // its socket).
  void note_error(int err) {
    if (noted_ && weight(err) < weight(last_error_)) return;
    noted_ = true;
    last_error_ = err;
    first_error_ = err == 0;
  }

  void win(std::size_t i) {
    loop_.cancel(stagger_);
    stagger_ = 0;
    const std::size_t connected = i;  // stays connected even if the first attempt is kept instead
    if (i != 0) {
      switch (install(i)) {
        case Installed::yes: break;
        case Installed::first_connected: i = 0; break;  // the program may already be using it: it stays
        case Installed::no: abandon("the program's socket changed meanwhile"); return;
      }
    }
    RaceAttempt& a = attempts_[i];
    a.running = false;
    a.outcome = "ok";
    a.user.reset();  // the program's session now (it was, or the record names it): never the race's to end
    learn_from_win(i, connected);
    if (i != 0) {
      release_first();
      close_attempt(i);  // the program's fd is the winner now
    }
    end_all("lost");
    finish(static_cast<int>(i), {});
  }

  // Another attempt replaced the first behind the program's fd. A poll() or select() of the program sleeps on the
  // first attempt's socket, which nothing else would wake before its own SYNs time out: shut down, it wakes them,
  // and they look at the fd again. Not when a fork happened meanwhile: a child may share that socket. A first
  // attempt on an instance inside the program is a connection of its stack thread: closed there now (a child's copy
  // of the fd cannot keep it, nor send a failure for it to nRD later).
  void release_first() {
    if (!attempts_[0].running) return;
    if (attempts_[0].fd >= 0 && g_forks.load() == setup_.forks_at_start) real().shutdown(attempts_[0].fd, SHUT_RDWR);
    if (attempts_[0].user) attempts_[0].user->abandon();
  }

  // A race somebody won (race_learning.hpp): the winner's handshake time is its stack's RTT sample (so is that of
  // an attempt that connected while the first one was kept); an attempt still running lost, and may have looked
  // silent; the attempts that failed meanwhile are told now — the destination was reachable.
  void learn_from_win(std::size_t winner, std::size_t connected) {
    const Duration now = loop_.now() - opened_;
    for (std::size_t j = 0; j < attempts_.size(); ++j) {
      const RaceAttempt& a = attempts_[j];
      const auto stack = static_cast<StackIndex>(a.stack);
      if (j == winner || j == connected) {
        learning_.connected(stack, now - a.started);
      } else if (a.running) {
        learning_.lost(stack, now - a.started, setup_.choice.attempt_delay);
      }
    }
    for (const auto& [stack, err] : failures_) learning_.failed(static_cast<StackIndex>(stack), err);
  }

  enum class Installed { yes, no, first_connected };

  // Puts private attempt i behind the program's fd, if that still is the program's first socket and that one has
  // not connected meanwhile.
  Installed install(std::size_t i) {
    FdSlot& slot = *setup_.slot;
    SlotLock lock(slot);
    if (lock.reentered() || slot.state.load(std::memory_order_relaxed) != first_state()) return Installed::no;
    FdRecord& rec = slot.record;
    if (rec.race_serial != setup_.serial || rec.dev != setup_.dev || rec.ino != setup_.ino) return Installed::no;
    if (setup_.first_session == 0 && !still_same_socket(setup_.fd, rec)) return Installed::no;
    if (attempts_[0].running && connected_now(0)) return Installed::first_connected;
    struct stat st {};
    if (::fstat(attempts_[i].fd, &st) != 0) return Installed::no;
    // The program's flags as it set them: a blocking connect made its socket non-blocking for the race only.
    FileState state = setup_.program_state;
    if (!blocking_attached()) {
      std::string ignored;
      if (read_file_state(setup_.fd, state, ignored) != 0) return Installed::no;
    }
    const bool served = attempts_[i].session != 0;
    const bool user = attempts_[i].user != nullptr;
    // Options the program set (TCP_NODELAY right after connect(): libuv, Node). A daemon's session end takes the
    // socket-level ones and answers the others from the record (service_fd.hpp); a user session takes them at
    // adoption.
    if (served) {
      replay_socket_level_options(rec, attempts_[i].fd);
    } else if (!user) {
      (void)replay_options(rec, setup_.fd, attempts_[i].fd);
    }
    // A user session enters the table before its end goes behind the fd: nothing that can fail comes after.
    const std::uint64_t user_id = user ? prepare_user_adoption(rec, attempts_[i].user) : 0;
    // The record says what the fd is about to be before the swap, under the slot lock: a thread of the program that
    // uses the fd the moment the winner is behind it (its epoll saw the winner's EPOLLOUT) finds the winner's state
    // and waits on this lock for the rest — never a user session's end taken for a kernel socket, its request
    // written into the readiness mirror. Restored if the swap fails.
    const FdRecord before = rec;
    const FdState state_before = slot.state.load(std::memory_order_relaxed);
    rec.dev = st.st_dev;
    rec.ino = st.st_ino;
    rec.stack = attempts_[i].stack;
    rec.original = false;
    rec.placeholder_stack = kNoStack;
    rec.race_serial = 0;
    if (served) {
      // As a placement leaves a session's end, established (the daemon said so): the fd is the program's end now.
      describe_service_end(rec, {attempts_[i].session, setup_.destination, std::nullopt, /*settled=*/true,
                                 /*listener=*/false});
      slot.state.store(FdState::service, std::memory_order_release);
    } else if (user) {
      // As put_on_user_stack leaves a session: the program's end behind its fd, the session in the table.
      if (setup_.first_session != 0) describe_service_end(rec, {});
      attempts_[i].user->set_app_identity(st.st_dev, st.st_ino);
      rec.session = user_id;
      slot.state.store(FdState::user, std::memory_order_release);
    } else if (setup_.first_session != 0 || setup_.first_user) {
      // A kernel socket in place of a daemon session's end, or of a user session's: a placed socket from now on
      // (the daemon ends its session when the last end closes, which is our copy, below; a user session is ended
      // by win()).
      describe_service_end(rec, {});
      slot.state.store(FdState::placed, std::memory_order_release);
    }
    std::string why;
    int epoll_refused = 0;
    if (swap_socket(setup_.fd, rec, attempts_[i].fd, state, why, epoll_refused) != 0) {
      rec = before;
      slot.state.store(state_before, std::memory_order_release);
      if (user) active_shim()->user_stacks()->sessions().remove(attempts_[i].user.get());
      return Installed::no;
    }
    return Installed::yes;
  }

  // Whether attempt j has connected, by its own account (a session's word, or its TCP state).
  bool connected_now(std::size_t j) {
    const RaceAttempt& a = attempts_[j];
    if (a.user) return a.user->connect_state() == 1;
    if (a.session != 0) return served_state(a) == 1;
    return a.fd >= 0 && established(a.fd);
  }

  std::size_t running() const {
    std::size_t n = 0;
    for (const auto& a : attempts_) n += a.running;
    return n;
  }

  void close_attempt(std::size_t i) {
    RaceAttempt& a = attempts_[i];
    // A later attempt's user session is the race's: its connection is closed on the stack thread (no sample for
    // nRD: a loser is not a failure). Attempt 0's is the program's (win() ends it when another won).
    if (i != 0 && a.user) {
      a.user->abandon();
      a.user.reset();
    }
    if (a.fd < 0) return;
    loop_.unwatch(a.fd);
    close_owned(a.fd);
    a.fd = -1;
  }

  void end_all(const char* outcome) {
    for (std::size_t i = 0; i < attempts_.size(); ++i) {
      RaceAttempt& a = attempts_[i];
      if (a.running) {
        a.running = false;
        a.outcome = outcome;
      }
      close_attempt(i);
    }
  }

  void finish(int winner, const std::string& why) {
    if (finished_) return;
    finished_ = true;
    winner_ = winner;
    loop_.cancel(stagger_);
    stagger_ = 0;
    loop_.cancel(check_);
    check_ = 0;
    loop_.cancel(verdict_);
    verdict_ = 0;
    release_record();
    if (setup_.wait) {
      setup_.wait->error.store(first_error_ ? 0 : last_error_);
      setup_.wait->last_rank.store(attempts_.back().rank);
      setup_.wait->result.store(winner >= 0 ? 1 : 2, std::memory_order_release);
      const char one = 1;
      [[maybe_unused]] const ssize_t n = real().write(setup_.wait->wake_write, &one, 1);
      std::lock_guard lock(g_waits_mutex);
      g_waits.erase(setup_.serial);
    }
    try {
      log(why);
    } catch (...) {
      // Out of memory while writing the log line: the race is over all the same.
    }
    if (on_finished) loop_.schedule(Duration::zero(), on_finished);
  }

  // The record stops recording epoll registrations for this race (unless another race took the number since).
  void release_record() {
    FdSlot& slot = *setup_.slot;
    SlotLock lock(slot);
    if (!lock.reentered() && slot.record.race_serial == setup_.serial) slot.record.race_serial = 0;
  }

  // One line per race that tried more than the first stack (a first attempt that simply connects is the connect
  // line's story alone).
  void log(const std::string& why) {
    Shim& shim = *active_shim();
    if (!shim.log().enabled() || attempts_.size() < 2) return;
    std::vector<Attempt> trail;
    for (const auto& a : attempts_) trail.push_back({shim.stack(a.stack).name, a.outcome, a.started});
    const std::string attempts = format_attempts(trail);
    DecisionLine line;
    line.fd = setup_.fd;
    line.event = "race";
    line.dst = setup_.dst;
    line.proto = "tcp";
    line.intent = setup_.intent;
    if (winner_ >= 0) line.stack = shim.stack(attempts_[static_cast<std::size_t>(winner_)].stack).name;
    line.rule = setup_.choice.rule;
    line.policy_version = setup_.choice.version;
    line.race = to_string(setup_.choice.race);
    line.attempts = attempts;
    if (winner_ < 0) line.error = why;
    shim.log().write(line);
  }

  kernel::EpollExecutor& loop_;
  RaceLearning& learning_;
  RaceSetup setup_;
  TimePoint opened_;
  std::vector<RaceAttempt> attempts_;
  std::vector<std::pair<int, int>> failures_;  // (stack, errno) of attempts that failed, for the breaker at a win
  int next_rank_ = 0;
  TimerId stagger_ = 0;
  TimerId check_ = 0;
  TimerId verdict_ = 0;
  bool finished_ = false;
  int winner_ = -1;
  int last_error_ = ETIMEDOUT;  // until an attempt failed
  bool noted_ = false;
  bool first_error_ = false;  // last_error_ is the first attempt's, left in its SO_ERROR for the program
};

// --- the racer thread ----------------------------------------------------------------------------------------

class Racer {
public:
  // The process's racer, started on first use; nullptr if its loop or thread cannot be made.
  static Racer* get() {
    for (;;) {
      if (Racer* r = g_racer.load(std::memory_order_acquire)) return r;
      int expected = kNone;
      if (g_state.compare_exchange_strong(expected, kStarting)) break;
      if (expected == kFailed) return nullptr;
      sched_yield();  // another thread is starting it
    }
    Racer* r = start();
    g_state.store(r ? kStarted : kFailed);
    return r;
  }
  static void forget_after_fork() {
    // The parent's learning, as copied into this child by the fork: the child's racer starts from it. The parent's
    // loop fds are of no use here (its thread is not): closed, or every fork generation would keep three more.
    if (Racer* parent = g_racer.load(std::memory_order_relaxed)) {
      g_inherited.store(parent->learning_.get());
      parent->loop_->close_fds_in_forked_child();
    }
    g_racer.store(nullptr, std::memory_order_relaxed);
    g_state.store(kNone, std::memory_order_relaxed);
  }

  void add(std::function<void()> job) { loop_->post(std::move(job)); }
  // The racer loop's clock (any thread).
  TimePoint now() const { return loop_->now(); }

  std::function<void()> job_for(RaceSetup setup, int first_copy) {
    return [this, setup = std::move(setup), first_copy]() mutable {
      std::shared_ptr<BlockingWait> wait = setup.wait;
      bool handed_over = false;  // the race owns first_copy from its construction on
      try {
        const int fd = setup.fd;
        if (auto old = races_.find(fd); old != races_.end()) {
          old->second.race->on_finished = nullptr;
          old->second.race->abandon("another connect took the fd number");
          retire(old);
        }
        auto race = std::make_unique<ConnectRace>(*loop_, *learning_, std::move(setup), first_copy);
        handed_over = true;
        ConnectRace* raw = race.get();
        // By serial, not by pointer: a later race for the same fd number may sit at the same address.
        const std::uint64_t serial = ++serial_;
        raw->on_finished = [this, fd, serial] {
          if (auto it = races_.find(fd); it != races_.end() && it->second.serial == serial) retire(it);
        };
        races_[fd] = Entry{std::move(race), serial};
        raw->start();
      } catch (...) {
        // Out of memory: no race; the program's socket connects on its own, and a waiting blocking connect waits
        // for it as the kernel would (given up: wait_for_first).
        if (!handed_over) close_owned(first_copy);
        g_races.fetch_sub(1, std::memory_order_relaxed);
        if (wait && wait->result.load() == 0) {
          wait->abandoned.store(true);
          wait->result.store(2, std::memory_order_release);
          const char one = 1;
          [[maybe_unused]] const ssize_t n = real().write(wait->wake_write, &one, 1);
        }
      }
    };
  }

private:
  static constexpr int kNone = 0, kStarting = 1, kStarted = 2, kFailed = 3;

  static Racer* start() {
    auto loop = [] {
      InsideShim guard;
      return kernel::EpollExecutor::create(kernel::high_fd_floor());
    }();
    if (!loop) return nullptr;
    Racer* r = nullptr;
    try {
      r = new Racer(std::move(*loop), active_shim()->orchestrator());
    } catch (...) {
      return nullptr;
    }
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    // pthread_create rather than std::thread, as for the shim's other threads (nrd_subscription.cpp says why).
    pthread_t thread;
    const int created = ::pthread_create(&thread, nullptr, &Racer::main, r);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (created != 0) {
      delete r;
      return nullptr;
    }
    ::pthread_detach(thread);
    g_racer.store(r, std::memory_order_release);
    return r;
  }

  Racer(std::unique_ptr<kernel::EpollExecutor> loop, Orchestrator& orchestrator)
      : loop_(std::move(loop)), learning_(std::make_unique<RaceLearning>(*loop_, orchestrator)) {
    if (const RaceLearning* parent = g_inherited.exchange(nullptr)) learning_->inherit(*parent);
  }
  static void* main(void* self) {
    InsideShim guard;  // the racer's own socket calls are the shim's, never the program's
    (void)static_cast<Racer*>(self)->loop_->run();
    return nullptr;
  }

  struct Entry {
    std::unique_ptr<ConnectRace> race;
    std::uint64_t serial = 0;
  };

  void retire(std::map<int, Entry>::iterator it) {
    races_.erase(it);
    g_races.fetch_sub(1, std::memory_order_relaxed);
  }

  std::unique_ptr<kernel::EpollExecutor> loop_;
  std::unique_ptr<RaceLearning> learning_;  // the loop thread's
  std::map<int, Entry> races_;  // by the program's fd; the loop thread's
  std::uint64_t serial_ = 0;
  static std::atomic<Racer*> g_racer;
  static std::atomic<int> g_state;
  static std::atomic<const RaceLearning*> g_inherited;  // a forked child's parent's, until its racer starts
};

std::atomic<Racer*> Racer::g_racer{nullptr};
std::atomic<int> Racer::g_state{Racer::kNone};
std::atomic<const RaceLearning*> Racer::g_inherited{nullptr};

// Marks the record as raced (serial) and fills the setup; false if the record is not the socket being connected.
bool prepare(int fd, FdSlot& slot, const Placement& p, const sockaddr* address, socklen_t length,
             const FileState& state, TimePoint connect_at, RaceSetup& s) {
  {
    SlotLock lock(slot);
    FdRecord& rec = slot.record;
    const FdState state_now = slot.state.load(std::memory_order_relaxed);
    if (lock.reentered() || (state_now != FdState::placed && state_now != FdState::service &&
                             !(state_now == FdState::user && p.user_session)))
      return false;
    // A socket dup'ed (or inherited) before its connect has other fds on it: a winner put behind this one would
    // leave them on a first attempt shut down. Not raced.
    if (rec.aliased) return false;
    if (!identity_known(rec) && !take_identity(fd, rec)) return false;
    s.first_session = state_now == FdState::service ? rec.session : 0;
    if (state_now == FdState::service && s.first_session == 0) return false;
    if (state_now == FdState::user) s.first_user = p.user_session;
    s.serial = g_next_serial.fetch_add(1, std::memory_order_relaxed) + 1;
    if (s.serial == 0) s.serial = g_next_serial.fetch_add(1, std::memory_order_relaxed) + 1;
    rec.race_serial = s.serial;  // from now on epoll_ctl and setsockopt on fd are recorded
    s.dev = rec.dev;
    s.ino = rec.ino;
    s.domain = rec.domain;
    s.protocol = rec.protocol;
  }
  s.fd = fd;
  s.slot = &slot;
  std::memcpy(&s.address, address, std::min<std::size_t>(length, sizeof s.address));
  s.length = length;
  s.destination = p.request.dst;
  s.choice = p.choice;
  s.first_rank = p.rank;
  s.program_state = state;
  s.forks_at_start = g_forks.load();
  s.connect_at = connect_at;
  s.dst = p.request.dst.to_string();
  s.intent = std::string(to_string(p.request.intent));
  return true;
}

void unmark(FdSlot& slot, std::uint32_t serial) {
  SlotLock lock(slot);
  if (!lock.reentered() && slot.record.race_serial == serial) slot.record.race_serial = 0;
}

// Whether `fd` still is the socket the blocking connect began with.
bool same_socket(int fd, const BlockingWait& wait) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && st.st_dev == wait.dev && st.st_ino == wait.ino;
}

// A blocking connect whose race was given up (BlockingWait::abandoned): what the program's fd holds — still the
// first attempt, if it is the same socket — is waited for as connect(2) waits for a connect in progress (SO_SNDTIMEO,
// signals: the kernel's, or the session's own). A fd closed or taken by another socket meanwhile: EBADF (the
// kernel would report the first socket's outcome, which no fd names any more).
int wait_for_first(int fd, FdSlot& slot, const FileState& state, const BlockingWait& wait,
                   const std::shared_ptr<UserSession>& user) {
  if (!same_socket(fd, wait)) {
    errno = EBADF;
    return -1;
  }
  real().fcntl(fd, F_SETFL, state.status_flags);
  if (user) {
    const int r = user->connect_again(fd);
    return r != 0 && errno == EISCONN ? 0 : r;
  }
  if (service_slot(fd) == &slot) return service_finish_connect(fd);
  int pending = 0;
  socklen_t len = sizeof pending;
  if (real().getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &len) != 0) return -1;
  if (pending != 0) {
    errno = pending;
    return -1;
  }
  // The kernel's own wait for a connect in progress; it answers as to a second connect (EISCONN once connected,
  // EALREADY when SO_SNDTIMEO runs out), which for the program is still its first one (0, EINPROGRESS).
  const int r = real().connect(fd, reinterpret_cast<const sockaddr*>(&wait.address), wait.length);
  if (r != 0 && errno == EISCONN) return 0;
  if (r != 0 && errno == EALREADY) errno = EINPROGRESS;
  return r;
}

// A blocking connect's wait for its race (see BlockingWait): 0 or the race's error; EINTR or EINPROGRESS (its
// SO_SNDTIMEO ran out) when the wait ends first — then, as after the kernel's own connect, the connection goes on
// without the caller, who may poll the fd or call connect() again (which waits again).
// `user`: the first attempt's session, if it is one of an instance inside the program; it holds what the program
// set and the error it met (the fd is only its application end).
int wait_for_race(int fd, FdSlot& slot, Placement* p, const FileState& state, BlockingWait& wait,
                  const std::shared_ptr<UserSession>& user) {
  timeval limit{};
  socklen_t limit_length = sizeof limit;
  const bool limited = user ? user->recall_option(SOL_SOCKET, SO_SNDTIMEO, &limit, &limit_length)
                            : real().getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, &limit_length) == 0;
  if (!limited || limit_length != sizeof limit) limit = timeval{};
  (void)real().setsockopt(wait.wake_read, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  wait.detached.store(false, std::memory_order_release);
  char byte = 0;
  const ssize_t got = real().read(wait.wake_read, &byte, 1);
  const int read_errno = errno;
  if (got != 1) {
    // Detached under the slot lock, and the flags restored there: a winner being installed meanwhile takes the
    // program's flags either before (then its own are restored below) or after this. A race given up meanwhile may
    // have left the number to another socket: its flags are not ours to touch.
    SlotLock lock(slot);
    wait.detached.store(true, std::memory_order_release);
    const bool abandoned = wait.abandoned.load();
    if (!abandoned || same_socket(fd, wait)) real().fcntl(fd, F_SETFL, state.status_flags);
    if (const int failed = wait.first_attempt_error.load(); failed != 0 && wait.result.load() != 1) {
      errno = failed;  // the first attempt failed, and the racer took its error for us: the connect failed
      return -1;
    }
    if (wait.result.load(std::memory_order_acquire) == 0 || abandoned) {
      // Interrupted (or out of time) while the race runs, or after it was given up: as a kernel connect, the
      // connection goes on without the caller.
      errno = read_errno == EAGAIN || read_errno == EWOULDBLOCK ? EINPROGRESS : read_errno;
      return -1;
    }
  }
  // Given up: the fd may not even be the program's socket any more (wait_for_first looks before it touches it).
  if (wait.result.load() == 2 && wait.abandoned.load()) return wait_for_first(fd, slot, state, wait, user);
  // Whatever is behind fd now — the first attempt, or the winner with the program's flags already — is blocking
  // again as the program made it.
  real().fcntl(fd, F_SETFL, state.status_flags);
  if (p) {
    p->rank = wait.last_rank.load();
    p->can_fall_back = p->rank + 1 < p->choice.ranked_count;
  }
  if (wait.result.load() == 1) return 0;
  int err = wait.error.load();
  // Where the error behind fd is: the first attempt's session (user, or a daemon's), or the socket's SO_ERROR (a
  // kernel first attempt, or a verdict's socket put there).
  const bool in_user = user && !wait.error_behind_fd.load();
  FdSlot* served = wait.error_behind_fd.load() ? nullptr : service_slot(fd);
  if (err != 0) {
    // Another attempt's error is reported: the one behind fd, if any, is not reported as well later (connect(2)
    // reports an error once).
    int pending = 0;
    socklen_t len = sizeof pending;
    if (in_user) {
      (void)user->socket_error(/*clear=*/true);
    } else if (served) {
      (void)service_getsockopt(fd, *served, SOL_SOCKET, SO_ERROR, &pending, &len);
    } else {
      (void)real().getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &len);
    }
  }
  if (err == 0) {  // the first attempt's own error decided: it is in that socket's SO_ERROR, still behind fd
    socklen_t len = sizeof err;
    if (in_user) {
      err = user->socket_error(/*clear=*/true);  // reported here, as connect(2) reports and clears it
      if (err == 0) err = ECONNREFUSED;
    } else if (real().getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err == 0) {
      err = ECONNREFUSED;
    }
  }
  errno = err;
  return -1;
}

// nullopt: no race was set up and nothing was called; the caller connects as without racing.
std::optional<int> race_or_throw(int fd, FdSlot& slot, Placement& p, const sockaddr* address, socklen_t length) {
  FileState state;
  std::string why;
  if (read_file_state(fd, state, why) != 0) return std::nullopt;
  const bool blocking = (state.status_flags & O_NONBLOCK) == 0;
  // Everything that can fail or allocate happens before the connect: after it, the race must start.
  Racer* racer = Racer::get();
  if (!racer) return std::nullopt;
  RaceSetup setup;
  if (!prepare(fd, slot, p, address, length, state, racer->now(), setup))
    return std::nullopt;
  const std::uint32_t serial = setup.serial;
  // A daemon's session, or a user session of an instance inside the program, is connecting already: nothing to
  // call for the first attempt.
  const bool connecting_already = setup.first_session != 0 || setup.first_user != nullptr;
  const std::shared_ptr<UserSession> first_user = setup.first_user;
  const int copy = real().fcntl(fd, F_DUPFD_CLOEXEC, kernel::high_fd_floor());
  if (copy >= 0) own(copy);
  std::shared_ptr<BlockingWait> wait;
  std::function<void()> job;
  try {
    if (blocking) {
      int pair[2] = {-1, -1};
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) throw std::bad_alloc();
      wait = std::make_shared<BlockingWait>(moved_high(pair[0]), moved_high(pair[1]));
      wait->dev = setup.dev;
      wait->ino = setup.ino;
      std::memcpy(&wait->address, address, std::min<std::size_t>(length, sizeof wait->address));
      wait->length = length;
      setup.wait = wait;
      std::lock_guard lock(g_waits_mutex);
      g_waits[serial] = wait;
    }
    if (copy < 0) throw std::bad_alloc();
    job = racer->job_for(std::move(setup), copy);
  } catch (...) {
    if (wait) {
      std::lock_guard lock(g_waits_mutex);
      g_waits.erase(serial);
    }
    close_owned(copy);
    unmark(slot, serial);
    return std::nullopt;
  }
  // A kernel socket connects here, non-blocking for a blocking program only for this call.
  if (blocking && !connecting_already) real().fcntl(fd, F_SETFL, state.status_flags | O_NONBLOCK);
  const int result = connecting_already ? -1 : real().connect(fd, address, length);
  const int err = connecting_already ? EINPROGRESS : errno;
  if (result == 0 || err != EINPROGRESS) {
    if (blocking) {
      real().fcntl(fd, F_SETFL, state.status_flags);
      std::lock_guard lock(g_waits_mutex);
      g_waits.erase(serial);
    }
    close_owned(copy);
    unmark(slot, serial);
    errno = err;
    return result;
  }
  g_races.fetch_add(1, std::memory_order_relaxed);
  try {
    racer->add(std::move(job));
  } catch (...) {
    // The racer never heard of it: no race. The first attempt connects on its own, as without racing.
    g_races.fetch_sub(1, std::memory_order_relaxed);
    if (blocking) {
      std::lock_guard lock(g_waits_mutex);
      g_waits.erase(serial);
    }
    close_owned(copy);
    unmark(slot, serial);
    if (connecting_already) return std::nullopt;
    if (!blocking) {
      errno = EINPROGRESS;
      return -1;
    }
    real().fcntl(fd, F_SETFL, state.status_flags);
    pollfd out{fd, POLLOUT, 0};
    while (::poll(&out, 1, -1) < 0 && errno == EINTR) {
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    real().getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    errno = so_error;
    return so_error == 0 ? 0 : -1;
  }
  if (!blocking) {
    errno = EINPROGRESS;
    return -1;
  }
  return wait_for_race(fd, slot, &p, state, *wait, first_user);
}

}  // namespace

bool wants_race(const Placement& p) {
  Shim* shim = active_shim();
  if (!shim || p.trigger != Trigger::connect || p.request.proto != L4Proto::tcp) return false;
  if (p.choice.race == RaceMode::failover || p.bound.bound()) return false;
  if (p.rank >= p.choice.healthy_count) return false;
  // The first attempt is the program's socket as placed: a kernel instance's, the end of a session of
  // dmm-stackd's (the daemon connects it), or the application end of a session of an instance inside the program
  // (its stack thread connects it).
  const ShimStack& first = shim->stack(p.choice.ranked[static_cast<std::size_t>(p.rank)]);
  const bool kernel_first = kernel_instance(first) && !p.service_session && !p.user_session;
  const bool served_first = served_instance(first) && p.service_session;
  const bool user_first = in_program_instance(first) && p.user_session && p.user_session->proto() == L4Proto::tcp;
  if (!kernel_first && !served_first && !user_first) return false;
  for (int r = p.rank + 1; r < p.choice.healthy_count; ++r)
    if (raceable(shim->stack(p.choice.ranked[static_cast<std::size_t>(r)]))) return true;
  return false;
}

std::optional<int> race_connect(int fd, FdSlot& slot, Placement& p, const sockaddr* address, socklen_t length) {
  try {
    return race_or_throw(fd, slot, p, address, length);
  } catch (...) {
    // Nothing after the connect throws (race_or_throw catches there): the connect has not been made yet.
    return std::nullopt;
  }
}

bool race_connect_again(int fd, int& result) noexcept {
  try {
    FdSlot* slot = fd_table().find(fd);
    const FdState state_now = slot ? slot->state.load(std::memory_order_acquire) : FdState::untracked;
    if (state_now != FdState::placed && state_now != FdState::service && state_now != FdState::user) return false;
    std::uint32_t serial = 0;
    std::uint64_t user_session = 0;
    {
      SlotLock lock(*slot);
      if (lock.reentered()) return false;
      serial = slot->record.race_serial;
      if (slot->state.load(std::memory_order_relaxed) == FdState::user) user_session = slot->record.session;
    }
    if (serial == 0) return false;
    std::shared_ptr<BlockingWait> wait = wait_of(serial);
    if (!wait || wait->result.load(std::memory_order_acquire) != 0) return false;  // over: the kernel answers
    FileState state;
    std::string why;
    if (read_file_state(fd, state, why) != 0 || (state.status_flags & O_NONBLOCK)) return false;
    std::shared_ptr<UserSession> user;
    if (user_session != 0) {
      UserStacks* stacks = active_shim()->user_stacks();
      user = stacks ? stacks->sessions().find(user_session) : nullptr;
      if (!user) return false;
    }
    result = wait_for_race(fd, *slot, nullptr, state, *wait, user);
    return true;
  } catch (...) {
    return false;
  }
}

int races_running() noexcept { return g_races.load(std::memory_order_relaxed); }

void races_note_fork() noexcept { g_forks.fetch_add(1); }

void races_after_fork_in_child() noexcept {
  Racer::forget_after_fork();
  if (Shim* shim = active_shim()) {
    shim->log_local_health(false);
    lift_local_marks_after_fork(shim->orchestrator());
    shim->log_local_health(true);
  }
  g_races.store(0, std::memory_order_relaxed);
  // Another thread of the parent may have held the waits' lock, or been inside the map, at the fork: the child
  // starts both afresh (the parent's entries are the parent's races; their memory is left as it is).
  new (&g_waits_mutex) std::mutex();
  new (&g_waits) std::map<std::uint32_t, std::weak_ptr<BlockingWait>>();
  // The racer's sockets are the parent's business: the child closes its copies (a private attempt would otherwise
  // stay connected through it).
  for (auto& slot : g_owned) {
    const int owned = slot.exchange(0, std::memory_order_relaxed);
    if (owned > 0) real().close(owned - 1);
  }
}

}  // namespace dmm::preload
