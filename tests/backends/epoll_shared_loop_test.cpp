// EpollExecutor's shared loop: other threads run loop work under the loop lock (run_here) and wait for the
// pollers' frames themselves (drive_until). Assertions on which thread ran what and on mutual exclusion, never on
// how long anything takes; every wait is bounded.
#include "dmm/kernel/epoll_executor.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace dmm::kernel {
namespace {

using namespace std::chrono_literals;
using Driven = EpollExecutor::Driven;

constexpr Duration kDeadline = 10s;  // generous: only a hang reaches it

// A shared loop running on its own thread, stopped and joined at the end.
class SharedLoop {
public:
  SharedLoop() {
    auto ex = EpollExecutor::create();
    EXPECT_TRUE(ex.ok());
    loop = std::move(*ex);
    loop->share_loop();
  }
  void start() {
    thread = std::thread([this] {
      loop_id = std::this_thread::get_id();
      (void)loop->run();
    });
  }
  ~SharedLoop() {
    loop->stop();
    if (thread.joinable()) thread.join();
  }
  std::unique_ptr<EpollExecutor> loop;
  std::thread thread;
  std::thread::id loop_id;
};

bool eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A port's poller: takes what its wake fd (an eventfd standing in for a packet socket) holds.
void add_frame_poller(EpollExecutor& loop, int frames) {
  loop.add_poller(
      [frames] {
        std::uint64_t value;
        return ::read(frames, &value, sizeof value) == sizeof value;
      },
      frames);
}

void signal(int eventfd) {
  const std::uint64_t one = 1;
  ASSERT_EQ(::write(eventfd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
}

TEST(EpollSharedLoop, RunHereRunsOnTheCallingThreadWithTheZeroDelayWorkItMade) {
  SharedLoop s;
  s.start();
  std::thread::id flushed_on;
  std::atomic<bool> later_ran{false};
  std::thread::id later_on;
  const int result = s.loop->run_here([&] {
    s.loop->schedule(0ms, [&] { flushed_on = std::this_thread::get_id(); });  // a port's flush
    // Due later: the loop thread, asleep in epoll_wait without a timer, must be re-armed for it.
    s.loop->schedule(30ms, [&] {
      later_on = std::this_thread::get_id();
      later_ran = true;
    });
    return 42;
  });
  EXPECT_EQ(result, 42);
  EXPECT_EQ(flushed_on, std::this_thread::get_id());  // before run_here returned, here
  ASSERT_TRUE(eventually([&] { return later_ran.load(); }));
  EXPECT_EQ(later_on, s.loop_id);
}

thread_local int t_guest_depth = 0;  // what the preload shim's hooks mark: this thread does loop work
volatile sig_atomic_t g_depth_in_handler = -1;
void record_depth(int) { g_depth_in_handler = t_guest_depth; }

TEST(EpollSharedLoop, GuestHooksMarkLoopWorkOnOtherThreadsButNotADriversWait) {
  UniqueFd frames(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  SharedLoop s;  // after the fds its pollers read: stopped before they close
  s.loop->set_guest_hooks({[] { ++t_guest_depth; }, [] { --t_guest_depth; }});
  int seen_while_waiting = -1;
  add_frame_poller(*s.loop, frames.get());
  s.start();
  EXPECT_EQ(s.loop->run_here([] { return t_guest_depth; }), 1);
  EXPECT_EQ(t_guest_depth, 0);
  UniqueFd own(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  int checks = 0;
  struct sigaction action {}, previous{};
  action.sa_handler = record_depth;
  ASSERT_EQ(::sigaction(SIGUSR1, &action, &previous), 0);
  const pthread_t driver = ::pthread_self();
  std::thread peer([&] {
    std::this_thread::sleep_for(20ms);
    // While the driver waits it is not doing loop work: the loop lock is free, and a signal handler that runs
    // there runs as the program's code (the shim then serves its socket calls).
    s.loop->run_here([&] { seen_while_waiting = 0; });
    ::pthread_kill(driver, SIGUSR1);
    std::this_thread::sleep_for(20ms);
    signal(frames.get());
  });
  (void)s.loop->drive_until(
      [&] {
        EXPECT_EQ(t_guest_depth, 1);  // done() runs as loop work
        return ++checks > 1 && seen_while_waiting == 0;
      },
      own.get(), POLLIN, kDeadline);
  peer.join();
  ::sigaction(SIGUSR1, &previous, nullptr);
  EXPECT_EQ(t_guest_depth, 0);
  EXPECT_EQ(seen_while_waiting, 0);
  EXPECT_EQ(g_depth_in_handler, 0);
}

TEST(EpollSharedLoop, LoopWorkAndRunHereNeverOverlap) {
  SharedLoop s;
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  long counter = 0;  // unguarded on purpose: the loop lock is what protects it (TSan checks that too)
  auto critical = [&] {
    if (inside.fetch_add(1) != 0) overlapped = true;
    ++counter;
    inside.fetch_sub(1);
  };
  // The loop keeps busy: a poller that always finds work.
  std::atomic<long> polled{0};
  s.loop->add_poller([&] {
    critical();
    ++polled;
    return true;
  });
  s.start();
  ASSERT_TRUE(eventually([&] { return polled.load() > 0; }));
  for (int i = 0; i < 20000; ++i) s.loop->run_here(critical);
  s.loop->run_here([&] { EXPECT_EQ(counter, 20000 + polled.load()); });  // no increment lost to a race
  EXPECT_FALSE(overlapped.load());
}

TEST(EpollSharedLoop, ADriverTakesThePollersFramesInsteadOfTheLoopThread) {
  UniqueFd frames(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  SharedLoop s;  // after the fds its pollers read: stopped before they close
  ASSERT_TRUE(frames);
  std::atomic<int> taken{0};
  std::thread::id taken_on;
  s.loop->add_poller(
      [&] {
        std::uint64_t value;
        if (::read(frames.get(), &value, sizeof value) != sizeof value) return false;
        taken_on = std::this_thread::get_id();
        ++taken;
        return true;
      },
      frames.get());
  s.start();
  UniqueFd idle(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));  // the reader's own fd: nothing comes on it
  std::thread peer([&] {
    std::this_thread::sleep_for(20ms);
    signal(frames.get());
  });
  const auto driven = s.loop->drive_until([&] { return taken.load() == 1; }, idle.get(), POLLIN, kDeadline);
  peer.join();
  ASSERT_TRUE(driven.has_value());
  EXPECT_EQ(*driven, Driven::done);
  EXPECT_EQ(taken_on, std::this_thread::get_id());  // the loop thread was not woken for the frame
  // Driving over, the loop thread watches the frames again.
  signal(frames.get());
  ASSERT_TRUE(eventually([&] { return taken.load() == 2; }));
  s.loop->run_here([&] { EXPECT_EQ(taken_on, s.loop_id); });
}

TEST(EpollSharedLoop, ADriverStopsAtItsFdOrItsTimeout) {
  UniqueFd frames(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  SharedLoop s;  // after the fds its pollers read: stopped before they close
  s.loop->add_poller([] { return false; }, frames.get());
  s.start();
  UniqueFd own(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  const auto timed_out = s.loop->drive_until([] { return false; }, own.get(), POLLIN, 30ms);
  ASSERT_TRUE(timed_out.has_value());
  EXPECT_EQ(*timed_out, Driven::timed_out);
  signal(own.get());
  const auto ready = s.loop->drive_until([] { return false; }, own.get(), POLLIN, kDeadline);
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(*ready, Driven::fd_ready);
}

TEST(EpollSharedLoop, OneDriverAtATimeAndNoneWithoutASharedLoopOrWakeFds) {
  UniqueFd frames(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  SharedLoop s;  // after the fds its pollers read: stopped before they close
  add_frame_poller(*s.loop, frames.get());
  s.start();
  UniqueFd own(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  std::atomic<bool> driving{false};
  std::atomic<bool> refused{false};
  std::optional<Driven> held;
  std::thread holder([&] {
    held = s.loop->drive_until(
        [&] {
          driving = true;
          return refused.load();
        },
        own.get(), POLLIN, kDeadline);
  });
  ASSERT_TRUE(eventually([&] { return driving.load(); }));
  // The holder waits in ppoll, without the loop lock: a second thread gets the lock, and no second drive.
  UniqueFd other(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  refused = !s.loop->drive_until([] { return true; }, other.get(), POLLIN, 10ms).has_value();
  signal(frames.get());  // a frame for the holder, which then sees `refused` and ends
  holder.join();
  EXPECT_TRUE(refused.load());
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(*held, Driven::done);

  auto plain = EpollExecutor::create();
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE((*plain)->drive_until([] { return true; }, own.get(), POLLIN, 10ms).has_value());
  SharedLoop without_wake_fd;
  without_wake_fd.loop->add_poller([] { return false; });  // a DPDK queue: nothing to wait on
  EXPECT_FALSE(without_wake_fd.loop->drive_until([] { return true; }, own.get(), POLLIN, 10ms).has_value());
}

TEST(EpollSharedLoop, ATimerADriverSchedulesReachesTheSleepingLoopThread) {
  UniqueFd frames(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  UniqueFd own(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  SharedLoop s;  // after the fds its pollers read: stopped before they close
  std::thread::id fired_on;
  s.loop->add_poller(
      [&] {
        std::uint64_t value;
        if (::read(frames.get(), &value, sizeof value) != sizeof value) return false;
        // A frame that starts a timer (a retransmission, a delayed ACK); the timer's work makes the driver's fd
        // ready, as a session's news makes its reader's fd readable.
        s.loop->schedule(20ms, [&] {
          fired_on = std::this_thread::get_id();
          signal(own.get());
        });
        return true;
      },
      frames.get());
  s.start();
  std::thread peer([&] {
    std::this_thread::sleep_for(20ms);
    signal(frames.get());  // taken by the driver, which schedules the timer on its pass
  });
  // The loop thread sleeps without a timer: the driver must arm it for the one its pass scheduled (else nothing
  // runs it until the drive times out).
  const auto driven = s.loop->drive_until([] { return false; }, own.get(), POLLIN, kDeadline);
  peer.join();
  ASSERT_TRUE(driven.has_value());
  EXPECT_EQ(*driven, Driven::fd_ready);
  EXPECT_EQ(fired_on, s.loop_id);
}

TEST(EpollSharedLoop, ADriveEndsWhenThePollersChangeUnderIt) {
  UniqueFd a(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), b(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  SharedLoop s;  // after the fds its pollers read: stopped before they close
  add_frame_poller(*s.loop, b.get());
  const auto id_a = s.loop->run_here([&] {
    return s.loop->add_poller(
        [&] {
          std::uint64_t value;
          return ::read(a.get(), &value, sizeof value) == sizeof value;
        },
        a.get());
  });
  s.start();
  std::thread peer([&] {
    std::this_thread::sleep_for(20ms);
    // An interface goes away while a thread drives: its poller is removed and its fd closed (the number may be
    // reused); a driver still polling it would meet POLLNVAL at once, for ever.
    s.loop->run_here([&] { s.loop->remove_poller(id_a); });
    a.reset();
    signal(b.get());
  });
  UniqueFd own(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  const auto driven = s.loop->drive_until([] { return false; }, own.get(), POLLIN, kDeadline);
  peer.join();
  EXPECT_FALSE(driven.has_value());  // handed back: the caller waits its usual way
}

}  // namespace
}  // namespace dmm::kernel
