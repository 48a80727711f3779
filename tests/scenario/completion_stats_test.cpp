// Completion time over all sessions in scope (scenario/completion_stats.hpp) and the expectation that uses it:
// unfinished sessions are censored at their age, failed ones never complete, none is dropped.
#include <gtest/gtest.h>

#include "scenario/completion_stats.hpp"

namespace dmm::scenario {
namespace {

using namespace std::chrono_literals;

SessionRecord completed(Duration start, Duration took) {
  SessionRecord s;
  s.start = start;
  s.end = start + took;
  s.completed = true;
  return s;
}

SessionRecord unfinished(Duration start) {
  SessionRecord s;
  s.start = start;
  s.end = 10s;  // what finish_run leaves: not an end
  s.error = kUnfinished;
  return s;
}

SessionRecord failed(Duration start) {
  SessionRecord s;
  s.start = start;
  s.end = start + 1ms;
  s.error = "connection refused";
  return s;
}

std::vector<const SessionRecord*> pointers(const std::vector<SessionRecord>& v) {
  std::vector<const SessionRecord*> out;
  for (const auto& s : v) out.push_back(&s);
  return out;
}

TEST(CompletionStats, WithoutCensoringTheMedianIsOverAllSessionsFailuresIncluded) {
  // 3 completed (100, 200, 300 ms) and 2 failed: half of the five are done only at 300 ms.
  std::vector<SessionRecord> v{completed(0s, 100ms), completed(0s, 200ms), completed(0s, 300ms), failed(0s),
                               failed(0s)};
  const auto c = estimate_completion(pointers(v), 10s);
  EXPECT_EQ(c.completed, 3u);
  EXPECT_EQ(c.failed, 2u);
  ASSERT_TRUE(c.median);
  EXPECT_EQ(*c.median, 300ms);
}

TEST(CompletionStats, UnfinishedSessionsCountAsAtLeastTheirAge) {
  // Four fast completions and six sessions stuck since 1 s: the finished ones alone have a 100 ms median, but
  // fewer than half of all sessions ever completed.
  std::vector<SessionRecord> v;
  for (int i = 0; i < 4; ++i) v.push_back(completed(0s, 100ms));
  for (int i = 0; i < 6; ++i) v.push_back(unfinished(1s));
  const auto c = estimate_completion(pointers(v), 10s);
  EXPECT_EQ(c.unfinished, 6u);
  EXPECT_FALSE(c.median) << "median " << to_seconds(*c.median);
}

TEST(CompletionStats, ASessionOpenedJustBeforeTheEndIsCensoredNotAFailure) {
  // Two fast completions and one session opened 10 ms before the end: censored at 10 ms, it leaves the estimate
  // before the completions are counted, so the median is theirs.
  std::vector<SessionRecord> v{completed(0s, 50ms), completed(1s, 60ms), unfinished(9990ms)};
  const auto c = estimate_completion(pointers(v), 10s);
  ASSERT_TRUE(c.median);
  EXPECT_EQ(*c.median, 50ms);
}

TEST(CompletionStats, MedianExpectationCountsUnfinishedSessions) {
  Scenario sc;
  sc.duration = 10s;
  ExpectSpec e;
  e.median_completion_at_most = 1s;
  e.as_text = "{median_completion_at_most: 1s}";
  sc.expect.push_back(e);
  std::vector<SessionRecord> v;
  for (int i = 0; i < 4; ++i) v.push_back(completed(0s, 100ms));
  for (int i = 0; i < 6; ++i) v.push_back(unfinished(1s));
  const auto r = evaluate(sc, v, {});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_FALSE(r[0].passed) << r[0].detail;  // the median of the finished ones (100 ms) would pass
  EXPECT_NE(r[0].detail.find("6 unfinished"), std::string::npos) << r[0].detail;

  v.resize(4);  // only the fast ones
  const auto ok = evaluate(sc, v, {});
  EXPECT_TRUE(ok[0].passed) << ok[0].detail;
  EXPECT_NE(ok[0].detail.find("median completion 0.1000s"), std::string::npos) << ok[0].detail;
}

}  // namespace
}  // namespace dmm::scenario
