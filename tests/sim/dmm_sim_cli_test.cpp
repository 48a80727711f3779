// The dmm-sim command line: exit codes, determinism, the results directory contract.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <fstream>

#include "run_helpers.hpp"

using namespace dmm::test;

namespace {

TEST(DmmSimCli, HelpUsageAndBadInputExitCodes) {
  EXPECT_EQ(run_sim({"--help"}).exit_code, 0);
  EXPECT_EQ(run_sim({}).exit_code, 2);
  EXPECT_EQ(run_sim({"--no-such-flag", scenario_path("scenarios/quickstart.yaml")}).exit_code, 2);
  auto missing = run_sim({"/nonexistent/scenario.yaml"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("/nonexistent/scenario.yaml"), std::string::npos) << missing.output;
  auto bad_set = run_sim({scenario_path("scenarios/quickstart.yaml"), "--set", "duration=ten"});
  EXPECT_EQ(bad_set.exit_code, 2) << bad_set.output;
  auto bad_seed = run_sim({scenario_path("scenarios/quickstart.yaml"), "--seed", "-4"});
  EXPECT_EQ(bad_seed.exit_code, 2) << bad_seed.output;
}

TEST(DmmSimCli, ProgressLineOnATerminal) {
  // `script` gives dmm-sim a pseudo-terminal; the progress line only appears on one.
  const auto out = fresh_dir("progress");
  const std::string cmd = "DMM_PROGRESS_AFTER=0 script -qec " +
                          shell_quote(shell_quote(DMM_SIM_BIN) + " " + shell_quote(scenario_path("tests/scenarios/switch.yaml")) +
                                      " --out " + shell_quote(out.string())) +
                          " /dev/null 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  const int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_NE(output.find("s simulated ("), std::string::npos) << output;
  EXPECT_NE(output.find("expectations: 0/0 passed"), std::string::npos) << output;
}

// Issue 12: the line keeps moving with wall time (not only at each 1 % of simulated time) and says events/s and
// how long is left.
TEST(DmmSimCli, ProgressLineShowsEventsPerSecondAndAnEta) {
  const auto out = fresh_dir("progress-eta");
  const std::string cmd = "DMM_PROGRESS_AFTER=0 DMM_PROGRESS_INTERVAL=0.02 script -qec " +
                          shell_quote(shell_quote(DMM_SIM_BIN) + " " +
                                      shell_quote(scenario_path("tests/scenarios/recovered-path.yaml")) + " --out " +
                                      shell_quote(out.string())) +
                          " /dev/null 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  pclose(pipe);
  EXPECT_NE(output.find("s wall, "), std::string::npos) << output;
  EXPECT_NE(output.find(" events/s"), std::string::npos) << output;
  EXPECT_NE(output.find(", ETA "), std::string::npos) << output;
}

TEST(DmmSimCli, UnusableOutIsFoundBeforeSimulating) {
  for (const std::string dir : {"/proc/x", ""}) {
    auto run = run_sim({scenario_path("scenarios/quickstart.yaml"), "--out", dir});
    EXPECT_EQ(run.exit_code, 2) << dir << ": " << run.output;
    EXPECT_NE(run.output.find("--out"), std::string::npos) << run.output;
    EXPECT_EQ(run.output.find("simulated"), std::string::npos) << "it ran first: " << run.output;
  }
  // A file where the directory should be.
  const auto file = fresh_dir("out-is-a-file");
  { std::ofstream(file.string()) << "x"; }
  auto run = run_sim({scenario_path("scenarios/quickstart.yaml"), "--out", file.string()});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  std::filesystem::remove(file);
}

TEST(DmmSimCli, CtrlCWritesPartialResultsMarkedAsSuch) {
  const auto out = fresh_dir("interrupted");
  // A run of 30 simulated seconds, interrupted after a second of wall time.
  const std::string cmd = shell_quote(DMM_SIM_BIN) + " " + shell_quote(scenario_path("scenarios/many-flows.yaml")) +
                          " --out " + shell_quote(out.string()) +
                          " --quiet & pid=$!; sleep 1; kill -INT $pid; wait $pid; echo rc=$?";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  pclose(pipe);
  EXPECT_NE(output.find("rc=130"), std::string::npos) << output;
  auto summary = nlohmann::json::parse(read_file(out / "summary.json"));
  EXPECT_TRUE(summary["partial"].get<bool>());
  const double at = summary["interrupted_at_s"].get<double>();
  EXPECT_GT(at, 0);
  EXPECT_LT(at, 30);
  EXPECT_TRUE(summary["expectations"].empty()) << "a partial run is not judged";
  EXPECT_FALSE(read_csv(out / "sessions.csv").empty());
}

TEST(DmmSimCli, AWorkloadThatOnlyFailedFailsTheRun) {
  const auto out = fresh_dir("all-fail");
  auto run = run_sim({scenario_path("tests/scenarios/all-fail.yaml"), "--out", out.string()});
  EXPECT_EQ(run.exit_code, 1) << run.output;  // before: 0
  EXPECT_NE(run.output.find("FAIL  (implicit) {workload: rpc"), std::string::npos) << run.output;
}

TEST(DmmSimCli, WarningsArePrintedBeforeTheRun) {
  const auto out = fresh_dir("warn");
  auto run = run_sim({scenario_path("tests/scenarios/switch.yaml"), "--out", out.string(), "--set",
                      "nrd.algorithm=static"});
  EXPECT_EQ(run.exit_code, 0) << run.output;  // before: 2, "algorithm 'static' takes no parameters"
  EXPECT_NE(run.output.find("dmm-sim: warning: --set nrd.algorithm=static: nrd.params.hysteresis"),
            std::string::npos)
      << run.output;
}

TEST(DmmSimCli, FailedExpectationExitsOne) {
  const auto out = fresh_dir("expect-fail");
  // The stack-fail scenario, but demanding that `first` carried everything even while it was down.
  auto run = run_sim({scenario_path("tests/scenarios/stack-fail.yaml"), "--out", out.string(), "--set",
                      "expect.1.stack=first"});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("FAIL"), std::string::npos) << run.output;
  auto summary = nlohmann::json::parse(read_file(out / "summary.json"));
  EXPECT_FALSE(summary["expectations"][1]["passed"].get<bool>());
  EXPECT_TRUE(summary["expectations"][0]["passed"].get<bool>());
}

std::string without_timing(const std::string& summary_json) {
  auto j = nlohmann::json::parse(summary_json);
  j.erase("timing");
  return j.dump();
}

TEST(DmmSimCli, SameSeedGivesByteIdenticalResults) {
  const auto a = fresh_dir("det-a"), b = fresh_dir("det-b"), c = fresh_dir("det-c");
  const auto scenario = scenario_path("scenarios/quickstart.yaml");
  ASSERT_EQ(run_sim({scenario, "--out", a.string(), "--quiet"}).exit_code, 0);
  ASSERT_EQ(run_sim({scenario, "--out", b.string(), "--quiet"}).exit_code, 0);
  for (const char* f : {"sessions.csv", "metrics.csv", "policy.jsonl", "events.csv"}) {
    const auto fa = read_file(a / f);
    EXPECT_FALSE(fa.empty()) << f;
    EXPECT_EQ(fa, read_file(b / f)) << f << " differs between two runs of the same seed";
  }
  EXPECT_EQ(without_timing(read_file(a / "summary.json")), without_timing(read_file(b / "summary.json")));
  // A different seed changes the arrivals: the test can tell runs apart.
  run_sim({scenario, "--out", c.string(), "--quiet", "--seed", "2"});
  EXPECT_NE(read_file(a / "sessions.csv"), read_file(c / "sessions.csv"));
}

TEST(DmmSimCli, ResultsDirectoryFollowsTheContract) {
  const auto out = fresh_dir("contract");
  auto run = run_sim({scenario_path("scenarios/quickstart.yaml"), "--out", out.string(), "--pcap"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("expectations: 4/4 passed"), std::string::npos) << run.output;
  auto first_line = [&](const char* file) {
    const auto text = read_file(out / file);
    return text.substr(0, text.find('\n'));
  };
  // Columns are added, never renamed or moved (DESIGN.md §2.2): the original ones first, in order; the added ones
  // are found by name, since several changes append columns.
  const std::string original =
      "session,workload,node,dst,port,intent,stack,rule,policy_version,start_s,end_s,bytes_sent,bytes_received,"
      "completed,error";
  const std::string sessions_header = first_line("sessions.csv");
  EXPECT_EQ(sessions_header.substr(0, original.size()), original) << sessions_header;
  EXPECT_NE(("," + sessions_header + ",").find(",attempts,"), std::string::npos) << sessions_header;
  EXPECT_EQ(first_line("metrics.csv"), "time_s,stack,rtt_ms,goodput_mbps,loss,failures,healthy");
  EXPECT_EQ(first_line("events.csv"), "time_s,event,target,detail");
  auto first_policy = nlohmann::json::parse(read_file(out / "policy.jsonl").substr(0, read_file(out / "policy.jsonl").find('\n')));
  for (const char* key : {"version", "time_s", "reason", "rules"}) EXPECT_TRUE(first_policy.contains(key)) << key;
  auto summary = nlohmann::json::parse(read_file(out / "summary.json"));
  for (const char* key : {"scenario", "seed", "duration_s", "sessions", "stacks", "expectations", "sim_events", "timing"}) {
    EXPECT_TRUE(summary.contains(key)) << key;
  }
  EXPECT_GT(summary["sim_events"].get<std::uint64_t>(), 10000u);
  std::size_t pcaps = 0;
  for (auto& e : std::filesystem::directory_iterator(out / "pcap")) pcaps += e.path().extension() == ".pcap";
  EXPECT_EQ(pcaps, 4u);  // two links, two ends each
}

}  // namespace
