#include "nrd_subscription.hpp"

#include <errno.h>
#include <sys/eventfd.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <vector>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/nrd/nrd_client.hpp"
#include "real_calls.hpp"
#include "fd_table.hpp"
#include "session_sampler.hpp"
#include "shim_guard.hpp"

namespace dmm::preload {
namespace {

// How often live sessions are looked at, and how big a transfer must be to say something about goodput (the
// same threshold as nSocket's).
constexpr Duration kSampleInterval = std::chrono::seconds(1);
constexpr Duration kInboxInterval = std::chrono::milliseconds(200);
constexpr ByteCount kMinGoodputBytes = 64 * 1024;
constexpr std::size_t kMaxTrackedSessions = 4096;

class NrdSubscription {
public:
  NrdSubscription(Orchestrator& orchestrator, nrd::NrdAddress address)
      : orchestrator_(orchestrator), address_(std::move(address)) {}

  void run();  // the thread's body; returns only if the event loop fails
  ClosedSessionInbox& inbox() { return inbox_; }
  void report(const PathSample& sample) {
    const std::lock_guard lock(ready_mutex_);
    if (ready_.size() < ClosedSessionInbox::kCapacity) ready_.push_back(sample);
  }

  // The daemon connection's fd and identity, for the fork child to close its copy; -1 when none.
  std::atomic<int> connection_fd{-1};
  std::atomic<dev_t> connection_dev{0};
  std::atomic<ino_t> connection_ino{0};

  // Start-up: true once the daemon's policy in force arrived, or an attempt to reach it failed.
  bool wait_for_first_answer(std::chrono::milliseconds bound) {
    std::unique_lock lock(state_mutex_);
    return state_cv_.wait_for(lock, bound, [this] { return first_answer_; });
  }
  // exit(): asks the loop to send everything now; true once it did (or it cannot: no daemon).
  bool flush_and_wait(std::chrono::milliseconds bound) {
    const std::uint64_t one = 1;
    {
      std::lock_guard lock(state_mutex_);
      flushed_ = false;
    }
    if (::write(flush_request_.get(), &one, sizeof one) != static_cast<ssize_t>(sizeof one)) return false;
    std::unique_lock lock(state_mutex_);
    return state_cv_.wait_for(lock, bound, [this] { return flushed_; });
  }

private:
  void answered() {
    std::lock_guard lock(state_mutex_);
    first_answer_ = true;
    state_cv_.notify_all();
  }
  void flushed() {
    std::lock_guard lock(state_mutex_);
    flushed_ = true;
    state_cv_.notify_all();
  }
  // The loop's side of flush_and_wait: drain the inbox, send, and report once the bytes left the process.
  void flush_until_written(kernel::EpollExecutor& loop, nrd::NrdClient& client, SessionSampler& sampler, int turns);

  void note_connection(int fd);
  void drain_inbox(kernel::EpollExecutor& loop, nrd::NrdClient& client, SessionSampler& sampler);

  Orchestrator& orchestrator_;
  nrd::NrdAddress address_;
  ClosedSessionInbox inbox_;
  std::mutex ready_mutex_;
  std::vector<PathSample> ready_;  // samples other parts of the shim made (guarded by ready_mutex_)
  std::mutex state_mutex_;
  std::condition_variable state_cv_;
  bool first_answer_ = false;  // guarded by state_mutex_
  bool flushed_ = false;       // guarded by state_mutex_
  kernel::UniqueFd flush_request_{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};  // exit() -> loop
};

// The process's subscription; null before start, in a fork child, and without `nrd:`. Never destroyed: the
// thread may still run while exit() runs destructors.
std::atomic<NrdSubscription*> g_subscription{nullptr};

void NrdSubscription::note_connection(int fd) {
  struct stat st {};
  if (fd >= 0 && ::fstat(fd, &st) == 0) {
    connection_dev.store(st.st_dev, std::memory_order_relaxed);
    connection_ino.store(st.st_ino, std::memory_order_relaxed);
    connection_fd.store(fd, std::memory_order_release);
  } else {
    connection_fd.store(-1, std::memory_order_release);
  }
}

void NrdSubscription::drain_inbox(kernel::EpollExecutor& loop, nrd::NrdClient& client, SessionSampler& sampler) {
  std::vector<ClosedSession> closed;
  inbox_.take(closed);
  for (const ClosedSession& s : closed) sampler.closed(s, loop.now(), client);
  std::vector<PathSample> ready;
  {
    const std::lock_guard lock(ready_mutex_);
    ready.swap(ready_);
  }
  for (PathSample& sample : ready) {
    sample.at = loop.now();  // made on another thread's clock: this loop's is the one nRD's samples share
    client.on_sample(sample);
  }
  loop.schedule(kInboxInterval, [this, &loop, &client, &sampler] { drain_inbox(loop, client, sampler); });
}

void NrdSubscription::flush_until_written(kernel::EpollExecutor& loop, nrd::NrdClient& client, SessionSampler& sampler,
                                          int turns) {
  if (turns == 0) {
    std::vector<ClosedSession> closed;
    inbox_.take(closed);
    for (const ClosedSession& s : closed) sampler.closed(s, loop.now(), client);
    std::vector<PathSample> ready;
    {
      const std::lock_guard lock(ready_mutex_);
      ready.swap(ready_);
    }
    for (PathSample& sample : ready) {
      sample.at = loop.now();
      client.on_sample(sample);
    }
  }
  // Without a daemon there is nowhere to send: done. Otherwise until every sample is written to the socket (a
  // Unix or TCP socket delivers what was written before the process ends), looking again every 2 ms.
  const bool sent = client.flush_now() && client.queued_bytes() == 0;
  if (!client.welcomed() || sent || turns >= 100) {
    flushed();
    return;
  }
  loop.schedule(std::chrono::milliseconds(2),
                [this, &loop, &client, &sampler, turns] { flush_until_written(loop, client, sampler, turns + 1); });
}

void NrdSubscription::run() {
  ++t_inside_shim;  // for the thread's whole life: its socket calls are the shim's own, not the program's
  // Its fds out of the program's way (a program that closes "its" fds must not close the subscription's loop).
  auto executor = kernel::EpollExecutor::create(kernel::high_fd_floor());
  if (!executor) {
    answered();  // nothing will come: the start-up wait must not wait for it
    return;
  }
  kernel::EpollExecutor& loop = **executor;
  nrd::NrdClientConfig config;
  config.address = address_;
  config.role = nrd::PeerRole::orchestrator;
  config.name = program_invocation_short_name;
  config.pid = static_cast<std::uint32_t>(::getpid());
  config.jitter_seed = config.pid;
  config.subscribe = true;
  nrd::NrdClient client(loop, config, &orchestrator_);
  SessionSampler sampler(orchestrator_, kMinGoodputBytes, kMaxTrackedSessions);
  client.on_link = [this, &client](bool) { note_connection(client.connection_fd()); };
  // The first policy (the daemon sends the one in force at subscription), or the news that it cannot be reached:
  // either ends the start-up wait.
  client.on_policy = [this](const Policy&, const Status&) { answered(); };
  client.on_attempt_failed = [this](const std::string&) { answered(); };
  if (flush_request_) {
    const int request = flush_request_.get();
    (void)loop.watch(request, EPOLLIN, [this, request, &loop, &client, &sampler](std::uint32_t) {
      std::uint64_t count = 0;
      while (::read(request, &count, sizeof count) == static_cast<ssize_t>(sizeof count)) {
      }
      flush_until_written(loop, client, sampler, 0);
    });
  }
  std::function<void()> walk = [&] {
    sampler.walk(loop.now(), client);
    loop.schedule(kSampleInterval, walk);
  };
  loop.schedule(kSampleInterval, walk);
  loop.schedule(kInboxInterval, [&] { drain_inbox(loop, client, sampler); });
  client.start();
  (void)loop.run();
}

void* run_subscription(void* subscription) {
  static_cast<NrdSubscription*>(subscription)->run();
  return nullptr;
}

}  // namespace

void start_nrd_subscription(Orchestrator& orchestrator, const host::NrdSpec& nrd, std::vector<std::string>& problems,
                            std::chrono::milliseconds first_policy_wait) {
  if (g_subscription.load(std::memory_order_acquire)) return;
  const nrd::NrdAddress address =
      nrd.tcp ? nrd::NrdAddress::tcp_endpoint(*nrd.tcp) : nrd::NrdAddress::unix_socket(nrd.socket);
  auto* subscription = new NrdSubscription(orchestrator, address);
  // The thread must never run a handler of the program's signals: block them all while it is created (it
  // inherits the mask), then restore ours.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  // pthread_create rather than std::thread (as for the user-space stacks' thread): the thread lives as long as the
  // program (it ends only if its event loop cannot be made), and std::thread's heap-held start state, pointed at
  // only from the thread's own stack, looks leaked to LeakSanitizer at exit when the program's threads are not the
  // sanitizer's (an uninstrumented program with the sanitized shim preloaded: CI's ASan phase). The subscription
  // itself stays reachable from g_subscription.
  pthread_t thread;
  const int created = ::pthread_create(&thread, nullptr, &run_subscription, subscription);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (created != 0) {
    problems.push_back(std::string("cannot start the dmm-nrd subscription: ") + std::strerror(created) +
                       "; the host config's policy stays in force");
    delete subscription;
    return;
  }
  ::pthread_detach(thread);
  g_subscription.store(subscription, std::memory_order_release);
  // Bounded: a daemon that accepts and then says nothing must not hold the program up longer than this.
  subscription->wait_for_first_answer(first_policy_wait);
}

void nrd_session_closing(int fd) {
  NrdSubscription* subscription = g_subscription.load(std::memory_order_acquire);
  if (!subscription || inside_shim()) return;
  InsideShim guard;  // a signal handler closing an fd on this thread meanwhile passes straight through
  if (auto session = read_closing_session(fd)) subscription->inbox().put(*session);
}

void flush_nrd_samples_at_exit(std::chrono::milliseconds bound) {
  NrdSubscription* subscription = g_subscription.load(std::memory_order_acquire);
  if (!subscription || inside_shim()) return;
  InsideShim guard;
  // Sessions still open at exit are closed by the kernel, not through close(): read them now, as close() would.
  fd_table().for_each([&](int fd, FdSlot& slot) {
    if (slot.state.load(std::memory_order_acquire) != FdState::placed) return;
    if (auto session = read_closing_session(fd)) subscription->inbox().put(*session);
  });
  subscription->flush_and_wait(bound);
}

void nrd_report_sample(const PathSample& sample) {
  if (NrdSubscription* subscription = g_subscription.load(std::memory_order_acquire)) subscription->report(sample);
}

void nrd_subscription_after_fork_in_child() {
  NrdSubscription* subscription = g_subscription.exchange(nullptr, std::memory_order_acq_rel);
  if (!subscription) return;
  // Our copy of the daemon connection: the parent's thread speaks on it; a stray write from here would corrupt
  // its stream. Closed only if the number still is that socket (the program may have reused a closed number).
  const int fd = subscription->connection_fd.load(std::memory_order_acquire);
  struct stat st {};
  if (fd >= 0 && ::fstat(fd, &st) == 0 && st.st_dev == subscription->connection_dev.load(std::memory_order_relaxed) &&
      st.st_ino == subscription->connection_ino.load(std::memory_order_relaxed))
    real().close(fd);
}

}  // namespace dmm::preload
