#include "dmm/event_queue_executor.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace std::chrono_literals;
using dmm::EventQueueExecutor;

TEST(EventQueueExecutor, RunsInTimeOrderAndFifoAmongEqualTimes) {
  EventQueueExecutor ex;
  std::vector<int> order;
  ex.schedule(20ms, [&] { order.push_back(3); });
  ex.schedule(10ms, [&] { order.push_back(1); });
  ex.schedule(10ms, [&] { order.push_back(2); });
  ex.run_until(dmm::TimePoint(1s));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(ex.now(), dmm::TimePoint(1s));
}

TEST(EventQueueExecutor, CancelledTimersNeverRun) {
  EventQueueExecutor ex;
  bool ran = false;
  auto id = ex.schedule(5ms, [&] { ran = true; });
  ex.cancel(id);
  ex.cancel(id);  // twice is harmless
  ex.run_for(1s);
  EXPECT_FALSE(ran);
  EXPECT_EQ(ex.pending(), 0u);
}

TEST(EventQueueExecutor, EventsScheduledByEventsRunWhenDue) {
  EventQueueExecutor ex;
  int count = 0;
  std::function<void()> tick = [&] {
    if (++count < 5) ex.schedule(100ms, tick);
  };
  ex.schedule(0ms, tick);
  ex.run_for(250ms);
  EXPECT_EQ(count, 3);  // at 0, 100, 200 ms
  ex.run_for(1s);
  EXPECT_EQ(count, 5);
}

TEST(EventQueueExecutor, NegativeDelayRunsNow) {
  EventQueueExecutor ex;
  ex.run_for(1s);
  bool ran = false;
  ex.schedule(-5s, [&] { ran = true; });
  EXPECT_TRUE(ex.run_next());
  EXPECT_TRUE(ran);
  EXPECT_EQ(ex.now(), dmm::TimePoint(1s));
}
