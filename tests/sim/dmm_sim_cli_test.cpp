// The dmm-sim command line: exit codes, determinism, the results directory contract.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

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
  EXPECT_EQ(first_line("sessions.csv"),
            "session,workload,node,dst,port,intent,stack,rule,policy_version,start_s,end_s,bytes_sent,"
            "bytes_received,completed,error");
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
