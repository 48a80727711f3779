// Expectations: the implicit check that a workload whose every session failed fails the run (issue 12, item 7).
#include <gtest/gtest.h>

#include "scenario/results.hpp"

namespace dmm::scenario {
namespace {

Scenario two_workloads() {
  Scenario s;
  s.workloads.resize(2);
  s.workloads[0].name = "rpc";
  s.workloads[1].name = "bulk";
  return s;
}

SessionRecord session(const std::string& workload, bool completed, const std::string& error) {
  SessionRecord r;
  r.workload = workload;
  r.completed = completed;
  r.error = error;
  return r;
}

TEST(Expectations, AWorkloadWhoseEverySessionFailedFailsTheRun) {
  const Scenario s = two_workloads();
  const std::vector<SessionRecord> sessions{session("rpc", false, "no route"), session("rpc", false, "refused"),
                                            session("bulk", true, "")};
  const auto results = evaluate(s, sessions, {});
  ASSERT_EQ(results.size(), 1u);  // before: none, and the run exited 0
  EXPECT_FALSE(results[0].passed);
  EXPECT_NE(results[0].text.find("workload: rpc"), std::string::npos) << results[0].text;
  EXPECT_NE(results[0].detail.find("2/2 sessions failed; the first: no route"), std::string::npos)
      << results[0].detail;
}

TEST(Expectations, UnfinishedIsNotFailedAndOneSuccessIsEnough) {
  const Scenario s = two_workloads();
  EXPECT_TRUE(evaluate(s, {session("rpc", false, kUnfinished), session("rpc", false, "x")}, {}).empty());
  EXPECT_TRUE(evaluate(s, {session("rpc", true, ""), session("rpc", false, "x")}, {}).empty());
  EXPECT_TRUE(evaluate(s, {}, {}).empty());  // no sessions: nothing failed
}

TEST(Expectations, NamingTheWorkloadInExpectHandsTheVerdictBack) {
  Scenario s = two_workloads();
  ExpectSpec e;
  e.workload = "rpc";
  e.completed = false;
  e.as_text = "{workload: rpc, completed: false}";
  s.expect.push_back(e);
  const auto results = evaluate(s, {session("rpc", false, "no route")}, {});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].passed);  // the scenario expected failure
}

}  // namespace
}  // namespace dmm::scenario
