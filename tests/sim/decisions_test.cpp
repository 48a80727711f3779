// Integration tests: real scenarios through the real dmm-sim, asserting the decisions DMM makes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "run_helpers.hpp"

using namespace dmm::test;

namespace {

struct PolicyLine {
  std::uint64_t version;
  double time_s;
};

std::vector<PolicyLine> read_policies(const std::filesystem::path& dir) {
  std::vector<PolicyLine> out;
  std::stringstream ss(read_file(dir / "policy.jsonl"));
  std::string line;
  while (std::getline(ss, line)) {
    auto j = nlohmann::json::parse(line);
    out.push_back({j["version"].get<std::uint64_t>(), j["time_s"].get<double>()});
  }
  return out;
}

TEST(Decisions, SwitchesWithinTwoPeriodsAfterADegradation) {
  const auto out = fresh_dir("switch");
  auto run = run_sim({scenario_path("tests/scenarios/switch.yaml"), "--out", out.string(), "--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto policies = read_policies(out);
  ASSERT_GE(policies.size(), 2u);
  EXPECT_EQ(policies[0].version, 1u);
  // Degradation at 5 s, period 0.5 s: the new version is decided by 6.0 s.
  EXPECT_GT(policies[1].time_s, 5.0);
  EXPECT_LE(policies[1].time_s, 6.0);
  const double applied = policies[1].time_s + 0.005;  // sync delay
  int before_fast = 0, before = 0, after_slow = 0, after = 0;
  for (auto& s : read_csv(out / "sessions.csv")) {
    if (s["stack"].empty()) continue;  // still connecting when the run ended
    const double start = std::stod(s["start_s"]);
    if (start >= 1.0 && start < 5.0) {
      ++before;
      before_fast += s["stack"] == "fast";
    }
    if (start > applied) {
      ++after;
      after_slow += s["stack"] == "slow";
      EXPECT_GE(std::stoull(s["policy_version"]), 2u) << "session " << s["session"];
    }
  }
  ASSERT_GT(before, 100);
  ASSERT_GT(after, 50);
  EXPECT_EQ(before_fast, before);
  EXPECT_EQ(after_slow, after);
}

TEST(Decisions, NoisyButStablePathDoesNotFlap) {
  const auto out = fresh_dir("noisy");
  auto run = run_sim({scenario_path("tests/scenarios/noisy.yaml"), "--out", out.string(), "--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(read_policies(out).size(), 1u) << read_file(out / "policy.jsonl");
  // The control: without hysteresis the same noise does flip the ranking, so the scenario is sensitive.
  const auto ctl = fresh_dir("noisy-ctl");
  auto control = run_sim({scenario_path("tests/scenarios/noisy.yaml"), "--out", ctl.string(), "--quiet", "--set",
                          "nrd.params.hysteresis=0"});
  ASSERT_EQ(control.exit_code, 0) << control.output;
  EXPECT_GE(read_policies(ctl).size(), 3u);
}

TEST(Decisions, LastPolicyIsKeptDuringAnNrdOutage) {
  const auto out = fresh_dir("outage");
  auto run = run_sim({scenario_path("scenarios/nrd-outage.yaml"), "--out", out.string(), "--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  for (auto& p : read_policies(out)) {
    EXPECT_FALSE(p.time_s >= 5.0 && p.time_s < 14.0) << "policy v" << p.version << " published while nRD was down";
  }
  // metrics.csv has no nRD rows while it was stopped.
  for (auto& m : read_csv(out / "metrics.csv")) {
    const double t = std::stod(m["time_s"]);
    EXPECT_FALSE(t > 5.0 && t < 14.0) << "nRD estimate at " << t;
  }
}

TEST(Decisions, FallsBackWhenTheFirstStackIsDown) {
  const auto out = fresh_dir("stack-fail");
  auto run = run_sim({scenario_path("tests/scenarios/stack-fail.yaml"), "--out", out.string(), "--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  int during = 0, failed = 0;
  for (auto& s : read_csv(out / "sessions.csv")) {
    const double start = std::stod(s["start_s"]);
    if (start >= 3.0 && start < 6.0) {
      ++during;
      EXPECT_EQ(s["stack"], "second") << "session " << s["session"];
      failed += s["completed"] != "1";
    }
  }
  EXPECT_GT(during, 60);
  EXPECT_EQ(failed, 0);
}

TEST(Decisions, LinkDownFailoverScenarioPasses) {
  const auto out = fresh_dir("failover");
  auto run = run_sim({scenario_path("scenarios/failover.yaml"), "--out", out.string()});
  EXPECT_EQ(run.exit_code, 0) << run.output;
}

TEST(Decisions, TheSiteScaleReferenceAnswersItsQuestion) {
  // 100 clients, 12,000 sessions, probes on: every expectation of scenarios/site.yaml holds.
  const auto out = fresh_dir("site");
  auto run = run_sim({scenario_path("scenarios/site.yaml"), "--out", out.string(), "--quiet"});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  const auto sessions = read_csv(out / "sessions.csv");
  EXPECT_GE(sessions.size(), 10000u);
}

TEST(Decisions, PluginStackKindCarriesSessions) {
  const auto out = fresh_dir("plugin");
  auto run = run_sim({scenario_path("tests/scenarios/plugin.yaml"), "--out", out.string(), "--set",
                      std::string("plugins=[") + DMM_TEST_PLUGIN + "]"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  int relayed = 0;
  for (auto& s : read_csv(out / "sessions.csv")) relayed += s["stack"] == "relayed";
  EXPECT_GT(relayed, 30);
  // Without the plug-in the kind is unknown: a scenario error, exit 2.
  auto without = run_sim({scenario_path("tests/scenarios/plugin.yaml"), "--out", out.string()});
  EXPECT_EQ(without.exit_code, 2) << without.output;
  EXPECT_NE(without.output.find("relay"), std::string::npos) << without.output;
}

TEST(Links, QueueSizesEachEndsBuffer) {
  // The scenario's BBR transfer needs a buffer of about two bandwidth-delay products (queue: 500) to complete in
  // time; the same run with the default 100 packets does not (ns-3's BBR collapses): the field must reach the link.
  const auto out = fresh_dir("bbr-queue");
  auto deep = run_sim({scenario_path("tests/scenarios/bbr-deep-buffer.yaml"), "--out", out.string(), "--quiet"});
  EXPECT_EQ(deep.exit_code, 0) << deep.output;
  auto shallow = run_sim({scenario_path("tests/scenarios/bbr-deep-buffer.yaml"), "--out", out.string(), "--quiet",
                          "--set", "topology.links.wan.queue=100"});
  EXPECT_EQ(shallow.exit_code, 1) << shallow.output;  // the expectation `completed` fails
  auto zero = run_sim({scenario_path("tests/scenarios/bbr-deep-buffer.yaml"), "--out", out.string(), "--quiet",
                       "--set", "topology.links.wan.queue=0"});
  EXPECT_EQ(zero.exit_code, 2) << zero.output;
  EXPECT_NE(zero.output.find("queue"), std::string::npos) << zero.output;
}

}  // namespace

namespace {

// Issue 12, item 3: `fast` recovers after a delay jump that left it with a loss estimate of 0.48; `weighted` must
// come back to it (before, the estimate stayed frozen and 0 of 419 sessions returned). The scenario's own
// expect: says so; here also what nRD believed.
TEST(Decisions, WeightedReturnsToARecoveredPath) {
  const auto out = fresh_dir("recovered");
  auto run = run_sim({scenario_path("tests/scenarios/recovered-path.yaml"), "--out", out.string(), "--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  double peak = 0;
  for (auto& m : read_csv(out / "metrics.csv")) {
    if (m["stack"] != "fast" || m["loss"].empty()) continue;
    const double t = std::stod(m["time_s"]), loss = std::stod(m["loss"]);
    if (t < 7) peak = std::max(peak, loss);
    if (t > 18) {
      EXPECT_LT(loss, 0.01) << "at " << t;
    }
  }
  EXPECT_GT(peak, 0.2) << "the scenario must produce the spurious loss it is about";
}

// Issue 12, item 5: the local circuit breaker's decisions are recorded. wan-a goes down at 8 s: the client's
// set-ups on `primary` time out, the node marks it down (events.csv: local_health) and sessions pass it over
// (sessions.csv: attempts).
TEST(Decisions, LocalHealthChangesAndAttemptsAreRecorded) {
  const auto out = fresh_dir("attempts");
  auto run = run_sim({scenario_path("scenarios/failover.yaml"), "--out", out.string(), "--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  int down = 0, up = 0;
  for (auto& e : read_csv(out / "events.csv")) {
    if (e["event"] != "local_health") continue;
    EXPECT_EQ(e["target"], "primary");
    if (!e["detail"].empty() && e["detail"].front() == '"') e["detail"] = e["detail"].substr(1);  // CSV quoting
    const double t = std::stod(e["time_s"]);
    if (e["detail"].rfind("client: down (", 0) == 0) {
      ++down;
      EXPECT_GE(t, 8.0);
      EXPECT_NE(e["detail"].find("set-up failures in a row"), std::string::npos) << e["detail"];
    } else {
      EXPECT_EQ(e["detail"].rfind("client: up (", 0), 0u) << e["detail"];
      ++up;
    }
  }
  EXPECT_GE(down, 1);
  EXPECT_GE(up, 1);
  int first_choice = 0, failed_over = 0, passed_over = 0;
  for (auto& s : read_csv(out / "sessions.csv")) {
    const std::string& a = s["attempts"];
    const double start = std::stod(s["start_s"]);
    if (start < 7.5) {
      EXPECT_EQ(a, "primary:ok") << "session " << s["session"];
      ++first_choice;
    }
    // Before the breaker trips, a set-up on `primary` fails (the link is down: unreachable) and `backup` takes it.
    failed_over += a == "primary:unreachable;backup:ok" || a == "primary:connect-timeout;backup:ok";
    passed_over += a.rfind("primary:local-down;", 0) == 0 || a.rfind("primary:down;", 0) == 0;
    if (!s["stack"].empty()) {
      EXPECT_NE(a.find(s["stack"] + ":ok"), std::string::npos) << a;
    } else {
      EXPECT_FALSE(a.empty()) << "session " << s["session"] << " never got a stack: its attempts say why";
    }
  }
  EXPECT_GT(first_choice, 100);
  EXPECT_GE(failed_over, 1);
  EXPECT_GT(passed_over, 100);
}

TEST(Decisions, CapacityIsEstimatedFromBackloggedSendersOnly) {
  // Issue 12, item 4: a 20 MB transfer on a 20 Mbit/s link measures the link; `slow`, which carries nothing but
  // probes, gets no capacity estimate (nothing was sent on it with a backlog).
  const auto out = fresh_dir("capacity");
  auto run = run_sim({scenario_path("scenarios/quickstart.yaml"), "--out", out.string(), "--quiet", "--set",
                      "duration=8s", "--set", "events=[]", "--set", "expect=[]", "--set", "workloads.rpc.stop=8s",
                      "--set", "topology.links.wan-a.rate=20Mbps"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  double highest = 0;
  int fast_rows_with_capacity = 0;
  for (auto& row : read_csv(out / "metrics.csv")) {
    if (row["stack"] == "slow") {
      EXPECT_EQ(row["capacity_estimate_mbps"], "") << "at " << row["time_s"];
      continue;
    }
    if (row["capacity_estimate_mbps"].empty()) continue;
    ++fast_rows_with_capacity;
    const double capacity = std::stod(row["capacity_estimate_mbps"]);
    highest = std::max(highest, capacity);
    if (!row["goodput_estimate_mbps"].empty()) {
      EXPECT_GE(capacity, std::stod(row["goodput_estimate_mbps"]) * 0.98);
    }
  }
  EXPECT_GT(fast_rows_with_capacity, 8);
  EXPECT_GT(highest, 17.0);   // TCP payload over a 20 Mbit/s link
  EXPECT_LE(highest, 20.5);
}

}  // namespace
