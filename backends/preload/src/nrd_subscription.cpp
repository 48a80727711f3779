#include "nrd_subscription.hpp"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <vector>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/nrd/nrd_client.hpp"
#include "real_calls.hpp"
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

private:
  void note_connection(int fd);
  void drain_inbox(kernel::EpollExecutor& loop, nrd::NrdClient& client, SessionSampler& sampler);

  Orchestrator& orchestrator_;
  nrd::NrdAddress address_;
  ClosedSessionInbox inbox_;
  std::mutex ready_mutex_;
  std::vector<PathSample> ready_;  // samples other parts of the shim made (guarded by ready_mutex_)
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

void NrdSubscription::run() {
  ++t_inside_shim;  // for the thread's whole life: its socket calls are the shim's own, not the program's
  auto executor = kernel::EpollExecutor::create();
  if (!executor) return;
  kernel::EpollExecutor& loop = **executor;
  nrd::NrdClientConfig config;
  config.address = address_;
  config.role = nrd::PeerRole::orchestrator;
  config.name = program_invocation_short_name;
  config.pid = static_cast<std::uint32_t>(::getpid());
  config.jitter_seed = config.pid;
  config.subscribe = true;
  nrd::NrdClient client(loop, config, &orchestrator_);
  client.on_link = [this, &client](bool) { note_connection(client.connection_fd()); };
  SessionSampler sampler(orchestrator_, kMinGoodputBytes, kMaxTrackedSessions);
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

void start_nrd_subscription(Orchestrator& orchestrator, const host::NrdSpec& nrd, std::vector<std::string>& problems) {
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
  if (created == 0) {
    ::pthread_detach(thread);
    g_subscription.store(subscription, std::memory_order_release);
  } else {
    problems.push_back(std::string("cannot start the dmm-nrd subscription: ") + std::strerror(created) +
                       "; the host config's policy stays in force");
    delete subscription;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void nrd_session_closing(int fd) {
  NrdSubscription* subscription = g_subscription.load(std::memory_order_acquire);
  if (!subscription || inside_shim()) return;
  InsideShim guard;  // a signal handler closing an fd on this thread meanwhile passes straight through
  if (auto session = read_closing_session(fd)) subscription->inbox().put(*session);
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
