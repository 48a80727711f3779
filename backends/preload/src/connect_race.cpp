#include "connect_race.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/nsocket.hpp"
#include "real_calls.hpp"
#include "record_ops.hpp"
#include "shim_guard.hpp"
#include "socket_swap.hpp"

namespace dmm::preload {
namespace {

std::atomic<int> g_races{0};

// A stack a private attempt can be made on: a usable kernel instance (its sockets are plain kernel sockets).
bool raceable(const ShimStack& stack) { return stack.usable && stack.sockets && !stack.user_space && !stack.served; }

// What a race needs to know, taken from the decision while the caller still runs in connect().
struct RaceSetup {
  int fd = -1;
  FdSlot* slot = nullptr;
  dev_t dev = 0;  // the program's socket (the first attempt)
  ino_t ino = 0;
  int domain = 0;
  int protocol = 0;
  sockaddr_storage address{};
  socklen_t length = 0;
  Choice choice;
  int first_rank = 0;
  bool blocking = false;
  FileState program_state;  // the program's flags and FD_CLOEXEC, for the socket that ends up behind fd
  std::string dst;
  std::string intent;
};

struct RaceAttempt {
  int rank = 0;
  int stack = 0;
  int fd = -1;        // what the race watches: a private socket, or (attempt 0) the program's fd or a dup of it
  bool own = false;   // fd is the race's to close
  bool running = true;
  Duration started{0};
  std::string outcome = "connecting";
};

class ConnectRace {
public:
  ConnectRace(kernel::EpollExecutor& loop, RaceSetup setup, int first_fd, bool first_own)
      : loop_(loop), setup_(std::move(setup)), opened_(loop.now()) {
    attempts_.push_back({setup_.first_rank, setup_.choice.ranked[static_cast<std::size_t>(setup_.first_rank)],
                         first_fd, first_own, true, Duration::zero(), "connecting"});
    next_rank_ = setup_.first_rank + 1;
  }
  ~ConnectRace() { end_all("lost"); }
  ConnectRace(const ConnectRace&) = delete;
  ConnectRace& operator=(const ConnectRace&) = delete;

  void start() {
    watch(0);
    if (setup_.choice.race == RaceMode::simultaneous) {
      while (!finished_ && has_candidate()) start_next();
    } else {
      arm_stagger();
    }
  }
  bool finished() const { return finished_; }
  // Called (from the loop, after the callback that finished the race) once the race is over.
  std::function<void()> on_finished;
  bool won() const { return winner_ >= 0; }
  int error() const { return last_error_; }
  int last_rank() const { return attempts_.back().rank; }
  // The program closed its fd (or a blocking connect's SO_SNDTIMEO ran out): the private attempts go.
  void abandon(const std::string& why) {
    if (finished_) return;
    end_all("lost");
    finish(-1, why);
  }

private:
  bool has_candidate() const {
    for (int r = next_rank_; r < setup_.choice.healthy_count; ++r)
      if (raceable(active_shim()->stack(setup_.choice.ranked[static_cast<std::size_t>(r)]))) return true;
    return false;
  }

  void watch(std::size_t i) {
    const Status watched = loop_.watch(attempts_[i].fd, EPOLLOUT | EPOLLERR | EPOLLHUP,
                                       [this, i](std::uint32_t events) { on_ready(i, events); });
    if (!watched) attempt_failed(i, watched.error().code != 0 ? watched.error().code : EIO);
  }

  void arm_stagger() {
    loop_.cancel(stagger_);
    stagger_ = 0;
    if (finished_ || !has_candidate()) return;
    const int waited_on = attempts_.back().stack;
    std::optional<Duration> rtt;
    if (auto estimate = active_shim()->orchestrator().rtt_estimate(static_cast<StackIndex>(waited_on)))
      rtt = estimate->rtt;
    stagger_ = loop_.schedule(resolve_attempt_delay(setup_.choice.attempt_delay, rtt), [this] {
      stagger_ = 0;
      start_next();
      if (!finished_ && setup_.choice.race == RaceMode::staggered) arm_stagger();
    });
  }

  // Starts a private attempt on the next raceable ranked stack (skipping ones that cannot be tried).
  void start_next() {
    Shim& shim = *active_shim();
    while (!finished_ && next_rank_ < setup_.choice.healthy_count) {
      const int rank = next_rank_++;
      const int stack = setup_.choice.ranked[static_cast<std::size_t>(rank)];
      if (!raceable(shim.stack(stack))) continue;
      RaceAttempt a{rank, stack, -1, true, true, loop_.now() - opened_, "connecting"};
      const int made = make_attempt_socket(shim.stack(stack), a.outcome);
      if (made < 0) {
        a.running = false;
        attempts_.push_back(std::move(a));
        continue;
      }
      a.fd = made;
      attempts_.push_back(std::move(a));
      const std::size_t i = attempts_.size() - 1;
      if (real().connect(made, reinterpret_cast<const sockaddr*>(&setup_.address), setup_.length) == 0) {
        win(i);
        return;
      }
      if (errno != EINPROGRESS) {
        const int err = errno;
        attempts_[i].running = false;
        attempts_[i].outcome = attempt_outcome(make_error(err, ""));
        last_error_ = err;
        close_attempt(i);
        continue;
      }
      watch(i);
      return;
    }
    if (!finished_ && running() == 0) finish(-1, "every attempt failed");
  }

  // A socket of `stack` for a private attempt: non-blocking, close-on-exec, the program's options replayed, at a
  // number out of the program's way. -1 with `outcome` set when it cannot be made.
  int make_attempt_socket(const ShimStack& stack, std::string& outcome) {
    Result<int> made = [&] {
      InsideShim guard;
      return stack.create_socket(setup_.domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, setup_.protocol);
    }();
    if (!made) {
      last_error_ = made.error().code != 0 ? made.error().code : EIO;
      outcome = attempt_outcome(made.error());
      return -1;
    }
    int fd = *made;
    const int high = real().fcntl(fd, F_DUPFD_CLOEXEC, kernel::high_fd_floor());
    if (high >= 0) {
      real().close(fd);
      fd = high;
    }
    SlotLock lock(*setup_.slot);
    if (!lock.reentered()) (void)replay_options(setup_.slot->record, setup_.fd, fd);
    return fd;
  }

  void on_ready(std::size_t i, std::uint32_t events) {
    if (finished_ || !attempts_[i].running) return;
    int err = 0;
    socklen_t len = sizeof err;
    if (real().getsockopt(attempts_[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0 && (events & (EPOLLERR | EPOLLHUP)) == 0) {
      win(i);
      return;
    }
    attempt_failed(i, err != 0 ? err : ECONNRESET);
  }

  void attempt_failed(std::size_t i, int err) {
    RaceAttempt& a = attempts_[i];
    a.running = false;
    a.outcome = attempt_outcome(make_error(err, ""));
    last_error_ = err;
    close_attempt(i);
    // What a non-blocking program waits on is its own socket: it reads that error itself, the race is over.
    if (i == 0 && !setup_.blocking) {
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
  }

  void win(std::size_t i) {
    RaceAttempt& a = attempts_[i];
    loop_.cancel(stagger_);
    stagger_ = 0;
    if (i != 0 && !install(i)) {
      end_all("lost");
      finish(-1, "the program's socket changed meanwhile");
      return;
    }
    a.running = false;
    a.outcome = "ok";
    if (i != 0) {
      loop_.unwatch(a.fd);
      real().close(a.fd);  // fd is the winner now
      a.fd = -1;
      // A poll() or select() of the program sleeps on the first attempt's socket, which nothing else would wake
      // before its own SYNs time out: shut down, it wakes them, and they look at the fd again — the winner.
      if (!setup_.blocking && attempts_[0].running && attempts_[0].fd >= 0)
        real().shutdown(attempts_[0].fd, SHUT_RDWR);
    }
    end_all("lost");
    finish(static_cast<int>(i), {});
  }

  // Puts private attempt i behind the program's fd, if that still is the program's first socket.
  bool install(std::size_t i) {
    FdSlot& slot = *setup_.slot;
    SlotLock lock(slot);
    if (lock.reentered() || slot.state.load(std::memory_order_relaxed) != FdState::placed) return false;
    FdRecord& rec = slot.record;
    if (rec.dev != setup_.dev || rec.ino != setup_.ino || !still_same_socket(setup_.fd, rec)) return false;
    struct stat st {};
    if (::fstat(attempts_[i].fd, &st) != 0) return false;
    // The program's flags as it set them (a blocking race had made its socket non-blocking for the race).
    FileState state = setup_.program_state;
    if (!setup_.blocking) {
      std::string ignored;
      if (read_file_state(setup_.fd, state, ignored) != 0) return false;
    }
    std::string why;
    int epoll_refused = 0;
    if (swap_socket(setup_.fd, rec, attempts_[i].fd, state, why, epoll_refused) != 0) return false;
    rec.dev = st.st_dev;
    rec.ino = st.st_ino;
    rec.stack = attempts_[i].stack;
    rec.original = false;
    rec.placeholder_stack = kNoStack;
    rec.racing = false;
    return true;
  }

  std::size_t running() const {
    std::size_t n = 0;
    for (const auto& a : attempts_) n += a.running;
    return n;
  }

  void close_attempt(std::size_t i) {
    RaceAttempt& a = attempts_[i];
    if (a.fd < 0) return;
    loop_.unwatch(a.fd);
    if (a.own) real().close(a.fd);
    a.fd = a.own ? -1 : a.fd;
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
    log(why);
    if (on_finished) loop_.schedule(Duration::zero(), on_finished);
  }

  // One line per race that tried more than the first stack (a first attempt that simply connects is the
  // connect line's story alone).
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
  RaceSetup setup_;
  TimePoint opened_;
  std::vector<RaceAttempt> attempts_;
  int next_rank_ = 0;
  TimerId stagger_ = 0;
  bool finished_ = false;
  int winner_ = -1;
  int last_error_ = ETIMEDOUT;
};

// --- the racer thread: non-blocking connects ------------------------------------------------------------------

class Racer {
public:
  static Racer* get() {
    Racer* r = g_racer.load(std::memory_order_acquire);
    if (r) return r;
    std::lock_guard lock(g_start);
    r = g_racer.load(std::memory_order_relaxed);
    if (r) return r;
    auto loop = kernel::EpollExecutor::create();
    if (!loop) return nullptr;
    r = new Racer(std::move(*loop));
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
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
  static void forget_after_fork() { g_racer.store(nullptr, std::memory_order_relaxed); }

  void add(RaceSetup setup, int first_fd) {
    g_races.fetch_add(1, std::memory_order_relaxed);
    loop_->post([this, setup = std::move(setup), first_fd]() mutable {
      const int fd = setup.fd;
      auto race = std::make_unique<ConnectRace>(*loop_, std::move(setup), first_fd, /*first_own=*/true);
      ConnectRace* raw = race.get();
      if (auto old = races_.find(fd); old != races_.end()) retire(old);
      // By serial, not by pointer: a later race for the same fd number may sit at the same address.
      const std::uint64_t serial = ++serial_;
      raw->on_finished = [this, fd, serial] {
        if (auto it = races_.find(fd); it != races_.end() && it->second.serial == serial) retire(it);
      };
      races_[fd] = Entry{std::move(race), serial};
      raw->start();
    });
  }

  void closing(int fd) {
    loop_->post([this, fd] {
      auto it = races_.find(fd);
      if (it == races_.end()) return;
      it->second.race->on_finished = nullptr;
      it->second.race->abandon("the program closed the socket");
      retire(it);
    });
  }

private:
  explicit Racer(std::unique_ptr<kernel::EpollExecutor> loop) : loop_(std::move(loop)) {}
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
    FdSlot* slot = fd_table().find(it->first);
    if (slot) {
      SlotLock lock(*slot);
      if (!lock.reentered()) slot->record.racing = false;
    }
    races_.erase(it);
    g_races.fetch_sub(1, std::memory_order_relaxed);
  }

  std::unique_ptr<kernel::EpollExecutor> loop_;
  std::map<int, Entry> races_;  // by the program's fd; the loop thread's
  std::uint64_t serial_ = 0;
  static std::atomic<Racer*> g_racer;
  static std::mutex g_start;
};

std::atomic<Racer*> Racer::g_racer{nullptr};
std::mutex Racer::g_start;

RaceSetup setup_for(int fd, FdSlot& slot, const Placement& p, const sockaddr* address, socklen_t length,
                    const FileState& state) {
  RaceSetup s;
  s.fd = fd;
  s.slot = &slot;
  {
    SlotLock lock(slot);
    FdRecord& rec = slot.record;
    if (!identity_known(rec)) (void)take_identity(fd, rec);
    s.dev = rec.dev;
    s.ino = rec.ino;
    s.domain = rec.domain;
    s.protocol = rec.protocol;
  }
  std::memcpy(&s.address, address, std::min<std::size_t>(length, sizeof s.address));
  s.length = length;
  s.choice = p.choice;
  s.first_rank = p.rank;
  s.blocking = (state.status_flags & O_NONBLOCK) == 0;
  s.program_state = state;
  s.dst = p.request.dst.to_string();
  s.intent = std::string(to_string(p.request.intent));
  return s;
}

int race_blocking(int fd, FdSlot& slot, Placement& p, const sockaddr* address, socklen_t length,
                  const FileState& state) {
  auto loop = [] {
    InsideShim guard;
    return kernel::EpollExecutor::create();
  }();
  if (!loop) return real().connect(fd, address, length);  // no loop: connect as without racing
  // The program is blocked in this call: its socket is non-blocking only for the race, and gets its flags back.
  real().fcntl(fd, F_SETFL, state.status_flags | O_NONBLOCK);
  const int result = real().connect(fd, address, length);
  const int err = errno;
  if (result == 0 || err != EINPROGRESS) {
    real().fcntl(fd, F_SETFL, state.status_flags);
    errno = err;
    return result;
  }
  // SO_SNDTIMEO bounds a blocking connect (the kernel then answers EINPROGRESS and goes on connecting): so it
  // bounds the race, after which the first attempt goes on alone, as the kernel's would.
  timeval limit{};
  socklen_t limit_length = sizeof limit;
  Duration bound = std::chrono::hours(1);
  if (real().getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, &limit_length) == 0 && (limit.tv_sec > 0 || limit.tv_usec > 0))
    bound = std::chrono::seconds(limit.tv_sec) + std::chrono::microseconds(limit.tv_usec);
  ConnectRace race(**loop, setup_for(fd, slot, p, address, length, state), fd, /*first_own=*/false);
  race.start();
  bool done = false;
  {
    InsideShim guard;
    done = (*loop)->run_until([&] { return race.finished(); }, bound);
  }
  if (!done) {
    race.abandon("SO_SNDTIMEO ran out; the first attempt goes on alone");  // as the kernel's connect would
    real().fcntl(fd, F_SETFL, state.status_flags);
    errno = EINPROGRESS;
    return -1;
  }
  const bool won = race.won();
  const int race_error = race.error();
  p.rank = race.last_rank();
  p.can_fall_back = p.rank + 1 < p.choice.ranked_count;
  // Whatever is behind fd now — the first attempt, or the winner with the program's flags already — is blocking
  // again as the program made it.
  real().fcntl(fd, F_SETFL, state.status_flags);
  if (won) return 0;
  errno = race_error;
  return -1;
}

}  // namespace

bool wants_race(const Placement& p) {
  Shim* shim = active_shim();
  if (!shim || p.trigger != Trigger::connect || p.request.proto != L4Proto::tcp) return false;
  if (p.user_session || p.service_session || p.choice.race == RaceMode::failover || p.bound.bound()) return false;
  if (p.rank >= p.choice.healthy_count) return false;
  if (!raceable(shim->stack(p.choice.ranked[static_cast<std::size_t>(p.rank)]))) return false;
  for (int r = p.rank + 1; r < p.choice.healthy_count; ++r)
    if (raceable(shim->stack(p.choice.ranked[static_cast<std::size_t>(r)]))) return true;
  return false;
}

int race_connect(int fd, FdSlot& slot, Placement& p, const sockaddr* address, socklen_t length) {
  FileState state;
  std::string why;
  if (read_file_state(fd, state, why) != 0) return real().connect(fd, address, length);
  if ((state.status_flags & O_NONBLOCK) == 0) return race_blocking(fd, slot, p, address, length, state);
  const int result = real().connect(fd, address, length);
  if (result == 0 || errno != EINPROGRESS) return result;
  // The racer watches the first attempt through a copy of the fd (the program may close its number meanwhile).
  const int copy = real().fcntl(fd, F_DUPFD_CLOEXEC, kernel::high_fd_floor());
  Racer* racer = copy >= 0 ? Racer::get() : nullptr;
  if (!racer) {
    if (copy >= 0) real().close(copy);
    errno = EINPROGRESS;
    return -1;
  }
  RaceSetup setup = setup_for(fd, slot, p, address, length, state);
  {
    SlotLock lock(slot);
    if (!lock.reentered()) slot.record.racing = true;  // epoll_ctl records registrations made from now on
  }
  racer->add(std::move(setup), copy);
  errno = EINPROGRESS;
  return -1;
}

int races_running() noexcept { return g_races.load(std::memory_order_relaxed); }

void race_fd_closing(int fd) noexcept {
  if (races_running() == 0) return;
  try {
    if (Racer* racer = Racer::get()) racer->closing(fd);
  } catch (...) {
    // Out of memory while telling the racer: its own check of the fd's identity ends the race when it ends.
  }
}

void races_after_fork_in_child() noexcept {
  Racer::forget_after_fork();
  g_races.store(0, std::memory_order_relaxed);
}

}  // namespace dmm::preload
