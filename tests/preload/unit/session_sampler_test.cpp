#include "session_sampler.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace std::chrono_literals;
using namespace dmm;
using namespace dmm::preload;

namespace {

TEST(ClosedSessionInbox, KeepsWhatFitsAndCountsTheRest) {
  ClosedSessionInbox inbox;
  for (std::size_t i = 0; i < ClosedSessionInbox::kCapacity + 5; ++i)
    inbox.put(ClosedSession{static_cast<int>(i), 0, 0, 0, {}});
  EXPECT_EQ(inbox.dropped(), 5u);
  std::vector<ClosedSession> out;
  inbox.take(out);
  ASSERT_EQ(out.size(), ClosedSessionInbox::kCapacity);
  EXPECT_EQ(out.front().fd, 0);
  EXPECT_EQ(out.back().fd, static_cast<int>(ClosedSessionInbox::kCapacity) - 1);
  out.clear();
  inbox.take(out);
  EXPECT_TRUE(out.empty());
}

TEST(ClosedSessionInbox, ManyProgramThreadsPutWhileTheSubscriptionTakes) {
  ClosedSessionInbox inbox;
  std::atomic<bool> done{false};
  std::size_t taken = 0;
  std::thread taker([&] {
    std::vector<ClosedSession> out;
    while (!done.load()) {
      inbox.take(out);
      std::this_thread::yield();
    }
    inbox.take(out);
    taken = out.size();
  });
  std::vector<std::thread> putters;
  for (int t = 0; t < 4; ++t)
    putters.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) inbox.put(ClosedSession{i, 0, 0, 0, {}});
    });
  for (auto& p : putters) p.join();
  done = true;
  taker.join();
  EXPECT_EQ(taken + inbox.dropped(), 20000u);
}

TEST(SessionMetrics, TcpInfoBecomesConnectionMetricsWithoutTheSyn) {
  kernel::TcpInfoSample info;
  info.rtt = 3ms;
  info.bytes_acked_seq = 1001;  // 1000 bytes of data and the SYN
  info.bytes_received_seq = 500;
  info.data_segments_out = 7;
  info.total_retransmits = 2;
  info.notsent_bytes = 4096;  // the sender's backlog: what nRD's capacity estimate needs
  const ConnectionMetrics m = metrics_of(info);
  EXPECT_EQ(m.rtt, 3ms);
  EXPECT_EQ(m.bytes_acked, 1000u);
  EXPECT_EQ(m.bytes_received, 500u);
  EXPECT_EQ(m.segments_sent, 7u);
  EXPECT_EQ(m.retransmits, 2u);
  EXPECT_EQ(m.bytes_unsent, 4096u);
  EXPECT_EQ(metrics_of(kernel::TcpInfoSample{}).bytes_acked, 0u);  // not even the SYN acknowledged yet
}

TEST(SessionSampler, AClosedSessionNoWalkSawGivesItsRttButNoGoodput) {
  Policy p;
  p.rules.push_back(Rule{Match{}, {"a", "b"}});
  Orchestrator orchestrator({"a", "b"}, p);
  SessionSampler sampler(orchestrator, 64 * 1024, 16);
  struct Sink final : PathSampleSink {
    void on_sample(const PathSample& s) override { samples.push_back(s); }
    std::vector<PathSample> samples;
  } sink;
  ClosedSession s{5, 1, 0, 0, {}};
  s.info.rtt = 2ms;
  s.info.bytes_acked_seq = 200'001;
  sampler.closed(s, 10s, sink);
  ASSERT_EQ(sink.samples.size(), 1u);
  EXPECT_EQ(sink.samples[0].stack, "b");
  EXPECT_EQ(sink.samples[0].rtt, 2ms);
  EXPECT_EQ(sink.samples[0].delivered, 200'000u);
  EXPECT_EQ(sink.samples[0].interval, 0s);  // its duration is unknown: no goodput from it
  sampler.closed(ClosedSession{6, 9, 0, 0, {}}, 10s, sink);  // not a stack of this orchestrator: nothing
  EXPECT_EQ(sink.samples.size(), 1u);
}

}  // namespace
