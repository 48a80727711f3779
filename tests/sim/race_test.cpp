// Racing across stack instances in the simulator (scenarios/blackhole.yaml): wan-a silently drops everything from
// 8 s on. Staggered attempts carry sessions opened right after it over wan-b within about the attempt delay;
// failover still waits for the connect timeout; a healthy first path never races.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "run_helpers.hpp"

using namespace dmm::test;

namespace {

struct BlackholeRun {
  int exit_code = -1;
  std::string output;
  std::vector<std::map<std::string, std::string>> sessions;
  std::vector<std::map<std::string, std::string>> events;
  nlohmann::json summary;
};

BlackholeRun run_blackhole(const std::string& label, std::vector<std::string> sets) {
  const auto out = fresh_dir("race-" + label);
  std::vector<std::string> args{scenario_path("scenarios/blackhole.yaml"), "--out", out.string(), "--quiet"};
  for (auto& s : sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  auto sim = run_sim(args);
  BlackholeRun run{sim.exit_code, sim.output, read_csv(out / "sessions.csv"), read_csv(out / "events.csv"), {}};
  run.summary = nlohmann::json::parse(read_file(out / "summary.json"), nullptr, false);
  std::filesystem::remove_all(out);
  return run;
}

// Median completion time (end - start) of the sessions opened in [from, to); unfinished ones count as never.
double median_completion(const BlackholeRun& run, double from, double to) {
  std::vector<double> times;
  for (auto& s : run.sessions) {
    const double start = number(s.at("start_s"));
    if (start < from || start >= to) continue;
    const double end = number(s.at("end_s"));
    times.push_back(s.at("completed") == "1" && end >= 0 ? end - start : 1e9);
  }
  if (times.empty()) return -1;
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

std::size_t local_downs(const BlackholeRun& run, const std::string& stack) {
  return static_cast<std::size_t>(std::count_if(run.events.begin(), run.events.end(), [&](auto& e) {
    return e.at("event") == "local_health" && e.at("target") == stack && e.at("detail").find(": down") != std::string::npos;
  }));
}

TEST(Racing, SessionsAfterASilentFailureCompleteWithinTheAttemptDelayNotTheConnectTimeout) {
  const auto staggered = run_blackhole("staggered", {});
  ASSERT_EQ(staggered.exit_code, 0) << staggered.output;
  const auto failover = run_blackhole("failover", {"policy.0.race=failover"});
  EXPECT_EQ(failover.exit_code, 1) << failover.output;  // its own expectation on the completion time fails

  // Before the fault: identical, one attempt each.
  EXPECT_NEAR(median_completion(staggered, 1, 8), median_completion(failover, 1, 8), 1e-9);
  for (auto& s : staggered.sessions) {
    if (number(s.at("start_s")) < 8.0) {
      EXPECT_EQ(s.at("attempts"), "primary:ok") << s.at("session");
    }
  }

  // The second after the fault: about the attempt delay (100 ms: twice wan-a's 20 ms RTT, clamped to RFC 8305's
  // minimum) plus wan-b's handshake and exchange; failover waits its 1 s connect timeout first.
  const double raced = median_completion(staggered, 8, 9);
  const double waited = median_completion(failover, 8, 9);
  EXPECT_LT(raced, 0.35) << raced;
  EXPECT_GT(raced, 0.1) << raced;
  EXPECT_GT(waited, 1.0) << waited;
  std::size_t raced_sessions = 0;
  for (auto& s : staggered.sessions)
    raced_sessions += s.at("attempts") == "primary:lost;backup:ok@100ms";
  EXPECT_GE(raced_sessions, 2u);

  // Losing is not failing for nRD, but a race lost without an answer within the attempt delay is a strike for the
  // node's circuit breaker: after two, sessions skip wan-a without paying the delay (as failover's timeouts do).
  EXPECT_GE(local_downs(staggered, "primary"), 1u);
  EXPECT_GE(local_downs(failover, "primary"), 1u);
  std::size_t skipped = 0;
  for (auto& s : staggered.sessions) skipped += s.at("attempts") == "primary:local-down;backup:ok";
  EXPECT_GT(skipped, 10u);

  // summary.json counts what racing cost: one extra attempt per raced session, each a loser.
  const auto& attempts = staggered.summary["attempts"];
  EXPECT_EQ(attempts["extra"].get<std::size_t>(), raced_sessions);
  EXPECT_EQ(attempts["lost"].get<std::size_t>(), raced_sessions);
  EXPECT_EQ(failover.summary["attempts"]["lost"].get<std::size_t>(), 0u);
}

TEST(Racing, SimultaneousRacesEverySessionAndStillCarriesThemOnTheFirstToConnect) {
  const auto run = run_blackhole("simultaneous", {"policy.0.race=simultaneous"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  for (auto& s : run.sessions) {
    if (number(s.at("start_s")) < 8.0 && s.at("completed") == "1") {
      EXPECT_EQ(s.at("attempts"), "primary:ok;backup:lost");
    }
  }
  EXPECT_LT(median_completion(run, 8, 9), 0.2);
}

TEST(Racing, TheSameSeedRacesTheSameWay) {
  const auto a = run_blackhole("det-a", {});
  const auto b = run_blackhole("det-b", {});
  ASSERT_EQ(a.sessions.size(), b.sessions.size());
  for (std::size_t i = 0; i < a.sessions.size(); ++i) EXPECT_EQ(a.sessions[i], b.sessions[i]) << i;
}

}  // namespace
