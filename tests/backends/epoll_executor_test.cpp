// EpollExecutor: timer order and cancellation, posts from other threads, stop, I/O readiness. No assertion on
// how long anything takes: only on order and on what happens, each wait bounded by a deadline.
#include "dmm/kernel/epoll_executor.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <thread>
#include <vector>

namespace dmm::kernel {
namespace {

using namespace std::chrono_literals;

constexpr Duration kDeadline = 10s;  // generous: only a hang reaches it

std::unique_ptr<EpollExecutor> make_executor() {
  auto ex = EpollExecutor::create();
  EXPECT_TRUE(ex.ok()) << ex.error().message;
  return std::move(*ex);
}

struct Pipe {
  UniqueFd read, write;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    read.reset(fds[0]);
    write.reset(fds[1]);
  }
  void put() const { ASSERT_EQ(::write(write.get(), "x", 1), 1); }
};

TEST(EpollExecutor, TimersRunInDueOrderAndFifoAmongEqualTimes) {
  auto ex = make_executor();
  std::vector<char> order;
  ex->schedule(30ms, [&] { order.push_back('e'); });
  ex->schedule(10ms, [&] { order.push_back('b'); });
  ex->schedule(10ms, [&] { order.push_back('c'); });
  ex->schedule(0ms, [&] { order.push_back('a'); });
  ex->schedule(20ms, [&] { order.push_back('d'); });
  ex->schedule(-5s, [&] { order.push_back('A'); });  // negative = zero: after 'a', scheduled earlier
  ASSERT_TRUE(ex->run_until([&] { return order.size() == 6; }, kDeadline));
  EXPECT_EQ(std::string(order.begin(), order.end()), "aAbcde");
  EXPECT_EQ(ex->pending_timers(), 0u);
}

TEST(EpollExecutor, AFloorPutsItsFdsOutOfTheProgramsWayAndTheLoopStillWorks) {
  // The preload shim's loops take numbers from high_fd_floor() up: a program that closes its small fds
  // (os.closerange(3, 100)) must not close them. The loop's fds are the only ones it opens: the lowest free number
  // before and after creating it is the same.
  const int lowest_before = ::dup(0);
  ASSERT_GE(lowest_before, 0);
  ::close(lowest_before);
  auto ex = EpollExecutor::create(900);
  ASSERT_TRUE(ex);
  const int lowest_after = ::dup(0);
  ::close(lowest_after);
  EXPECT_EQ(lowest_after, lowest_before);
  bool ran = false;
  (*ex)->schedule(std::chrono::milliseconds(1), [&] {
    ran = true;
    (*ex)->stop();
  });
  (*ex)->post([] {});
  ASSERT_TRUE((*ex)->run());
  EXPECT_TRUE(ran);
}

TEST(EpollExecutor, CancelledTimersNeverRun) {
  auto ex = make_executor();
  std::vector<int> ran;
  const TimerId later = ex->schedule(5ms, [&] { ran.push_back(2); });
  TimerId same_batch = 0;
  ex->schedule(0ms, [&] {
    ran.push_back(1);
    ex->cancel(same_batch);  // due in the same batch as this one: must still not run
  });
  same_batch = ex->schedule(0ms, [&] { ran.push_back(99); });
  ex->cancel(later);
  ex->cancel(later);  // twice is harmless
  const TimerId last = ex->schedule(20ms, [&] { ran.push_back(3); });
  ASSERT_TRUE(ex->run_until([&] { return !ran.empty() && ran.back() == 3; }, kDeadline));
  ex->cancel(last);  // already ran: no-op
  EXPECT_EQ(ran, (std::vector<int>{1, 3}));
  EXPECT_EQ(ex->pending_timers(), 0u);
}

TEST(EpollExecutor, NowIsMonotonicFromConstruction) {
  auto ex = make_executor();
  const TimePoint a = ex->now();
  TimePoint at_timer{-1};
  ex->schedule(1ms, [&] { at_timer = ex->now(); });
  ASSERT_TRUE(ex->run_until([&] { return at_timer >= TimePoint::zero(); }, kDeadline));
  EXPECT_GE(a, TimePoint::zero());
  EXPECT_GE(at_timer, a + 1ms);  // a timer never runs before it is due
  EXPECT_GE(ex->now(), at_timer);
}

TEST(EpollExecutor, PostsFromOtherThreadsRunOnTheLoopInPostingOrder) {
  auto ex = make_executor();
  constexpr int kThreads = 4, kPerThread = 2000;
  std::vector<std::vector<int>> seen(kThreads);
  const auto loop_thread = std::this_thread::get_id();
  bool all_on_loop = true;
  int done = 0;
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i)
        ex->post([&, t, i] {
          all_on_loop = all_on_loop && std::this_thread::get_id() == loop_thread;
          seen[static_cast<std::size_t>(t)].push_back(i);
          ++done;
        });
    });
  }
  const bool finished = ex->run_until([&] { return done == kThreads * kPerThread; }, kDeadline);
  for (auto& p : posters) p.join();
  ASSERT_TRUE(finished);
  EXPECT_TRUE(all_on_loop);
  for (const auto& per_thread : seen) {
    ASSERT_EQ(per_thread.size(), static_cast<std::size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(per_thread[static_cast<std::size_t>(i)], i);
  }
}

TEST(EpollExecutor, StopFromAnotherThreadEndsRun) {
  auto ex = make_executor();
  bool posted_ran = false;
  std::thread stopper([&] {
    ex->post([&] { posted_ran = true; });
    ex->stop();
  });
  ASSERT_TRUE(ex->run().ok());  // returns: stop() was seen (a hang here is the failure)
  stopper.join();
  // The post and the stop may land in one wake-up, and stop() ends the loop after the current callback: the
  // post has run or is still queued, never lost.
  if (!posted_ran) {
    EXPECT_TRUE(ex->run_until([&] { return posted_ran; }, kDeadline));
  }
}

TEST(EpollExecutor, StopBeforeRunMakesRunReturnAtOnce) {
  auto ex = make_executor();
  ex->stop();
  ASSERT_TRUE(ex->run().ok());
  // And the stop is consumed: the next wait runs normally.
  bool ran = false;
  ex->schedule(0ms, [&] { ran = true; });
  EXPECT_TRUE(ex->run_until([&] { return ran; }, kDeadline));
}

TEST(EpollExecutor, RunUntilGivesUpAtTheDeadline) {
  auto ex = make_executor();
  EXPECT_FALSE(ex->run_until([] { return false; }, 5ms));
  EXPECT_EQ(ex->pending_timers(), 0u);  // its own deadline timer is gone
}

TEST(EpollExecutor, WatchReportsReadinessUntilUnwatched) {
  auto ex = make_executor();
  Pipe watched, marker;
  int reads = 0, markers = 0;
  ASSERT_TRUE(ex->watch(watched.read.get(), EPOLLIN, [&](std::uint32_t ev) {
    EXPECT_TRUE(ev & EPOLLIN);
    char c;
    while (::read(watched.read.get(), &c, 1) == 1) ++reads;
  }).ok());
  EXPECT_EQ(ex->watch(watched.read.get(), EPOLLIN, [](std::uint32_t) {}).error().code, EEXIST);
  ASSERT_TRUE(ex->watch(marker.read.get(), EPOLLIN, [&](std::uint32_t) {
    char c;
    while (::read(marker.read.get(), &c, 1) == 1) ++markers;
  }).ok());

  watched.put();
  ASSERT_TRUE(ex->run_until([&] { return reads == 1; }, kDeadline));

  ex->unwatch(watched.read.get());
  EXPECT_FALSE(ex->watching(watched.read.get()));
  watched.put();
  marker.put();  // both readable now: one epoll_wait would report both if the first were still watched
  ASSERT_TRUE(ex->run_until([&] { return markers == 1; }, kDeadline));
  EXPECT_EQ(reads, 1);
  EXPECT_EQ(ex->modify(watched.read.get(), EPOLLIN).error().code, ENOENT);
}

TEST(EpollExecutor, AnFdUnwatchedByAnotherCallbackOfTheSameBatchGetsNoEvent) {
  auto ex = make_executor();
  Pipe p1, p2;
  int calls = 0;
  // Level-triggered and never drained: each callback removes the other, so exactly one may ever run.
  ASSERT_TRUE(ex->watch(p1.read.get(), EPOLLIN, [&](std::uint32_t) {
    ++calls;
    ex->unwatch(p2.read.get());
    ex->unwatch(p1.read.get());
  }).ok());
  ASSERT_TRUE(ex->watch(p2.read.get(), EPOLLIN, [&](std::uint32_t) {
    ++calls;
    ex->unwatch(p1.read.get());
    ex->unwatch(p2.read.get());
  }).ok());
  p1.put();
  p2.put();
  bool marker = false;
  ASSERT_TRUE(ex->run_until([&] { return calls > 0; }, kDeadline));
  ex->schedule(0ms, [&] { marker = true; });
  ASSERT_TRUE(ex->run_until([&] { return marker; }, kDeadline));
  EXPECT_EQ(calls, 1);
}

TEST(EpollExecutor, ZeroDelayTimersDoNotStarveIo) {
  auto ex = make_executor();
  std::function<void()> spin = [&] { ex->schedule(0ms, spin); };
  ex->schedule(0ms, spin);
  Pipe p;
  bool readable = false;
  ASSERT_TRUE(ex->watch(p.read.get(), EPOLLIN, [&](std::uint32_t) { readable = true; }).ok());
  p.put();
  EXPECT_TRUE(ex->run_until([&] { return readable; }, kDeadline));
  ex->unwatch(p.read.get());
}

TEST(EpollExecutor, CallbackMayUnwatchItsOwnFd) {
  auto ex = make_executor();
  Pipe p;
  int calls = 0;
  ASSERT_TRUE(ex->watch(p.read.get(), EPOLLIN, [&, fd = p.read.get()](std::uint32_t) {
    ++calls;
    ex->unwatch(fd);  // destroys this callback's registration while it runs
  }).ok());
  p.put();
  ASSERT_TRUE(ex->run_until([&] { return calls == 1; }, kDeadline));
  bool marker = false;
  ex->post([&] { marker = true; });
  ASSERT_TRUE(ex->run_until([&] { return marker; }, kDeadline));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace dmm::kernel

namespace dmm::kernel {
namespace {

TEST(EpollExecutorPollers, ABusyPollerKeepsTheLoopTurningWithoutAnyEvent) {
  auto ex = EpollExecutor::create();
  ASSERT_TRUE(ex.ok());
  int calls = 0;
  (*ex)->add_poller([&] {
    ++calls;
    return true;  // always finds work: the loop must never block
  });
  EXPECT_TRUE((*ex)->run_until([&] { return calls >= 1000; }, std::chrono::seconds(20)));
}

TEST(EpollExecutorPollers, AnIdlePollerIsStillCalledEveryIdleWakeup) {
  auto ex = EpollExecutor::create();
  ASSERT_TRUE(ex.ok());
  (*ex)->set_poll_policy({.busy_for = std::chrono::milliseconds(0), .idle_wakeup = std::chrono::milliseconds(1)});
  int calls = 0;
  (*ex)->add_poller([&] {
    ++calls;
    return false;  // nothing to do: the loop blocks, but only for idle_wakeup at a time
  });
  // Without the idle wake-up the loop would sleep until the 20 s deadline and see 2 calls.
  EXPECT_TRUE((*ex)->run_until([&] { return calls >= 20; }, std::chrono::seconds(20)));
}

TEST(EpollExecutorPollers, PollersWithWakeFdsSleepUntilTheFdIsReadableInsteadOfWakingOnATimer) {
  auto ex = EpollExecutor::create();
  ASSERT_TRUE(ex.ok());
  UniqueFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  ASSERT_TRUE(wake);
  int calls = 0;
  bool saw_data = false;
  const auto id = (*ex)->add_poller(
      [&] {
        ++calls;
        std::uint64_t value;
        if (::read(wake.get(), &value, sizeof value) != sizeof value) return false;
        saw_data = true;
        return true;
      },
      wake.get());
  // Idle for 200 ms: a timer-woken loop would call the poller ~200 times (idle_wakeup 1 ms); this one sleeps.
  (*ex)->run_until([] { return false; }, std::chrono::milliseconds(200));
  EXPECT_LE(calls, 5);
  // Readiness of the fd wakes it: from another thread, while the loop sleeps.
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::uint64_t one = 1;
    (void)::write(wake.get(), &one, sizeof one);
  });
  EXPECT_TRUE((*ex)->run_until([&] { return saw_data; }, std::chrono::seconds(20)));
  writer.join();
  // Once removed, its fd no longer wakes the loop, and the fd may be closed.
  (*ex)->remove_poller(id);
  EXPECT_FALSE((*ex)->watching(wake.get()));
}

TEST(EpollExecutorPollers, OnePollerWithoutAWakeFdKeepsTheTimedIdleWakeups) {
  auto ex = EpollExecutor::create();
  ASSERT_TRUE(ex.ok());
  (*ex)->set_poll_policy({.busy_for = std::chrono::milliseconds(0), .idle_wakeup = std::chrono::milliseconds(1)});
  UniqueFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  ASSERT_TRUE(wake);
  (*ex)->add_poller([] { return false; }, wake.get());
  int calls = 0;
  (*ex)->add_poller([&] {
    ++calls;
    return false;  // a DPDK queue: nothing wakes the loop for it
  });
  EXPECT_TRUE((*ex)->run_until([&] { return calls >= 20; }, std::chrono::seconds(20)));
}

TEST(EpollExecutorPollers, APollerCanRemoveItselfAndOthers) {
  auto ex = EpollExecutor::create();
  ASSERT_TRUE(ex.ok());
  int a = 0, b = 0;
  EpollExecutor::PollerId id_b = 0;
  EpollExecutor::PollerId id_a = (*ex)->add_poller([&] {
    ++a;
    (*ex)->remove_poller(id_a);
    (*ex)->remove_poller(id_b);  // b, later in the same turn, is not called any more
    return true;
  });
  id_b = (*ex)->add_poller([&] {
    ++b;
    return true;
  });
  bool ticked = false;
  (*ex)->schedule(std::chrono::milliseconds(5), [&] { ticked = true; });
  EXPECT_TRUE((*ex)->run_until([&] { return ticked; }, std::chrono::seconds(20)));
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 0);
}

}  // namespace
}  // namespace dmm::kernel
