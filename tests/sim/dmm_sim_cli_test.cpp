// The dmm-sim command line: exit codes, determinism, the results directory contract.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdlib>
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
  // Its speed is over the part it ran, not the whole scenario's 30 s (which inflated it).
  const auto& timing = summary["timing"];
  EXPECT_NEAR(timing["sim_s_per_wall_s"].get<double>(), at / timing["wall_s"].get<double>(), 1e-6);
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

// summary.json without its documented volatile objects: `timing` (wall time) and `invocation` (command line,
// working directory, host, start time). Everything else must be the same for the same seed.
std::string without_volatile(const std::string& summary_json) {
  auto j = nlohmann::json::parse(summary_json);
  j.erase("timing");
  j.erase("invocation");
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
  EXPECT_EQ(read_file(a / "scenario.yaml"), read_file(b / "scenario.yaml"));
  const auto summary_a = nlohmann::json::parse(read_file(a / "summary.json"));
  EXPECT_TRUE(summary_a.contains("provenance") && summary_a.contains("invocation")) << summary_a.dump(2);
  EXPECT_EQ(without_volatile(read_file(a / "summary.json")), without_volatile(read_file(b / "summary.json")));
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
  // The first format's columns, in order, then the ones added since (columns are appended, never renamed).
  EXPECT_EQ(first_line("sessions.csv"),
            "session,workload,node,dst,port,intent,stack,rule,policy_version,start_s,end_s,bytes_sent,"
            "bytes_received,completed,error,bytes_delivered,loss,owd_ms,jitter_ms,attempts");
  EXPECT_EQ(first_line("metrics.csv"), "time_s,stack,rtt_ms,goodput_mbps,loss,failures,healthy,goodput_estimate_mbps,"
            "capacity_estimate_mbps");
  EXPECT_EQ(first_line("events.csv"), "time_s,event,target,detail");
  auto first_policy = nlohmann::json::parse(read_file(out / "policy.jsonl").substr(0, read_file(out / "policy.jsonl").find('\n')));
  for (const char* key : {"version", "time_s", "reason", "rules"}) EXPECT_TRUE(first_policy.contains(key)) << key;
  auto summary = nlohmann::json::parse(read_file(out / "summary.json"));
  for (const char* key : {"scenario", "seed", "duration_s", "sessions", "stacks", "expectations", "sim_events", "timing",
                          "provenance", "invocation"}) {
    EXPECT_TRUE(summary.contains(key)) << key;
  }
  for (const char* key : {"goodput_mbps", "delivered_mbps", "bytes", "bytes_delivered"}) {
    EXPECT_TRUE(summary["stacks"][0].contains(key)) << key;
  }
  EXPECT_TRUE(std::filesystem::exists(out / "scenario.yaml"));
  EXPECT_GT(summary["sim_events"].get<std::uint64_t>(), 10000u);
  std::size_t pcaps = 0;
  for (auto& e : std::filesystem::directory_iterator(out / "pcap")) pcaps += e.path().extension() == ".pcap";
  EXPECT_EQ(pcaps, 4u);  // two links, two ends each
}

TEST(DmmSimCli, UdpSessionsAreMeasuredWhereTheyArrive) {
  // 8 Mbit/s of UDP into a 1 Mbit/s path that loses half its packets; 1 Mbit/s into a path that loses all.
  const auto out = fresh_dir("udp");
  auto run = run_sim({scenario_path("tests/scenarios/udp-lossy.yaml"), "--out", out.string()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::uint64_t offered = 0, delivered = 0;
  for (const auto& row : read_csv(out / "sessions.csv")) {
    const double sent = number(row.at("bytes_sent")), got = number(row.at("bytes_delivered"));
    if (row.at("workload") == "video") {
      offered += std::uint64_t(sent);
      delivered += std::uint64_t(got);
      EXPECT_EQ(row.at("completed"), "1");
      EXPECT_GT(number(row.at("loss")), 0.8) << row.at("session");
      EXPECT_GT(number(row.at("owd_ms")), 20) << "at least the link's delay";
      EXPECT_GE(number(row.at("jitter_ms")), 0);
    } else if (row.at("workload") == "blackhole") {
      EXPECT_EQ(row.at("completed"), "0") << "no datagram arrived: not completed";
      EXPECT_EQ(row.at("error"), "no datagram arrived");
      EXPECT_EQ(got, 0);
      EXPECT_EQ(number(row.at("loss")), 1.0);
      EXPECT_EQ(row.at("owd_ms"), "");
    } else {  // TCP: everything it sent was acknowledged; no UDP figures
      EXPECT_EQ(got, sent);
      EXPECT_EQ(row.at("loss"), "");
      EXPECT_EQ(row.at("jitter_ms"), "");
    }
  }
  ASSERT_GT(offered, 3'000'000u);
  EXPECT_LT(delivered, offered / 5) << "delivered " << delivered << " of " << offered;
  // The summary and the printed table report what arrived, not what was sent.
  auto summary = nlohmann::json::parse(read_file(out / "summary.json"));
  for (const auto& stack : summary["stacks"]) {
    if (stack["stack"] != "lossy") continue;
    const double seconds = summary["duration_s"].get<double>();
    EXPECT_NEAR(stack["delivered_mbps"].get<double>(), double(delivered) * 8 / seconds / 1e6, 1e-6);
    EXPECT_EQ(stack["goodput_mbps"], stack["delivered_mbps"]);
    EXPECT_EQ(stack["bytes_delivered"].get<std::uint64_t>(), delivered);
  }
  EXPECT_NE(run.output.find("delivered Mbit/s"), std::string::npos) << run.output;
  EXPECT_EQ(summary["sessions"]["failed"].get<int>(), 4) << "the four blackhole sessions";
}

TEST(DmmSimCli, UnfinishedSessionsHaveNoEndTime) {
  // A 20 MB transfer cannot finish in 1 s: it is still open at the end, and its end_s says nothing.
  const auto out = fresh_dir("unfinished");
  auto run = run_sim({scenario_path("tests/scenarios/switch.yaml"), "--out", out.string(), "--quiet", "--set",
                      "duration=1s", "--set", "events=[]", "--set",
                      "workloads=[{name: big, kind: bulk, from: client, to: server, port: 5001, size: 20MB}]"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto rows = read_csv(out / "sessions.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("error"), "unfinished at end of run");
  EXPECT_EQ(rows[0].at("end_s"), "");
  EXPECT_EQ(rows[0].at("completed"), "0");
  EXPECT_GT(number(rows[0].at("bytes_delivered")), 0);
  EXPECT_LE(number(rows[0].at("bytes_delivered")), number(rows[0].at("bytes_sent")));
}

TEST(DmmSimCli, MetricsTimesKeepMicroseconds) {
  const auto out = fresh_dir("metrics-us");
  auto run = run_sim({scenario_path("tests/scenarios/switch.yaml"), "--out", out.string(), "--quiet", "--set",
                      "duration=100ms", "--set", "events=[]", "--set", "nrd.period=1500us"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto rows = read_csv(out / "metrics.csv");
  ASSERT_GT(rows.size(), 10u);
  EXPECT_EQ(rows[0].at("time_s"), "0.001500");  // 0.002 with millisecond rounding
  EXPECT_EQ(rows[2].at("time_s"), "0.003000");
  EXPECT_EQ(rows[0].at("goodput_estimate_mbps"), rows[0].at("goodput_mbps"));
}

TEST(DmmSimCli, ResultsSayHowTheyWereMade) {
  const auto out = fresh_dir("provenance"), again = fresh_dir("provenance-again");
  const auto scenario = scenario_path("tests/scenarios/switch.yaml");
  auto run = run_sim({scenario, "--out", out.string(), "--quiet", "--seed", "5", "--set", "nrd.period=250ms",
                      "--set", "topology.links.wan-b.delay=30ms"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto summary = nlohmann::json::parse(read_file(out / "summary.json"));
  const auto& p = summary["provenance"];
  EXPECT_EQ(p["overrides"], nlohmann::json({"nrd.period=250ms", "topology.links.wan-b.delay=30ms"}));
  EXPECT_EQ(p["seed_option"], 5);
  EXPECT_EQ(p["scenario_file"], scenario);
  EXPECT_EQ(p["scenario_copy"], "scenario.yaml");
  EXPECT_EQ(p["ns3_version"], "3.37");
  EXPECT_FALSE(p["dmm_version"].get<std::string>().empty());
  EXPECT_TRUE(p["git_commit"].is_null() || p["git_commit"].get<std::string>().size() == 40) << p.dump();
  const auto& inv = summary["invocation"];
  EXPECT_EQ(inv["tool"], "dmm-sim");
  EXPECT_EQ(inv["command_line"][0], DMM_SIM_BIN);
  EXPECT_EQ(inv["command_line"].back(), "topology.links.wan-b.delay=30ms");
  EXPECT_GT(inv["host"]["cpus"].get<int>(), 0);
  EXPECT_FALSE(inv["host"]["hostname"].get<std::string>().empty());
  EXPECT_FALSE(inv["host"]["kernel"].get<std::string>().empty());
  EXPECT_EQ(inv["started_utc"].get<std::string>().size(), 20u);
  // The copy of the scenario is the run: run as it is, with no options, it gives the same files.
  auto rerun = run_sim({(out / "scenario.yaml").string(), "--out", again.string(), "--quiet"});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  for (const char* f : {"sessions.csv", "metrics.csv", "policy.jsonl", "events.csv"}) {
    EXPECT_EQ(read_file(out / f), read_file(again / f)) << f;
  }
}

TEST(DmmSimCli, VersionOnEveryTool) {
  for (const std::string bin : {DMM_SIM_BIN, DMM_SIM_BENCH_BIN}) {
    SimRun run;
    FILE* pipe = popen((shell_quote(bin) + " --version 2>&1").c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char buf[512];
    while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) run.output.append(buf, n);
    const int status = pclose(pipe);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << bin << ": " << run.output;
    const std::string name = std::filesystem::path(bin).filename().string();
    EXPECT_EQ(run.output.rfind(name + " 0.", 0), 0u) << run.output;
    EXPECT_NE(run.output.find("ns-3 3.37"), std::string::npos) << run.output;
  }
}

TEST(DmmSimBench, ComparesWithPlainNs3OrPrintsItsOwnFiguresOnly) {
  const auto dir = fresh_dir("sim-bench");
  // A --json path that cannot be written is refused before the runs, not found missing after them.
  auto unwritable = run_tool(DMM_SIM_BENCH_BIN, {scenario_path("tests/scenarios/switch.yaml"), "--json",
                                                 (dir / "with.json").string()});
  EXPECT_EQ(unwritable.exit_code, 2) << unwritable.output;
  EXPECT_NE(unwritable.output.find("cannot write --json " + (dir / "with.json").string()), std::string::npos)
      << unwritable.output;
  std::filesystem::create_directories(dir);
  auto with = run_tool(DMM_SIM_BENCH_BIN, {scenario_path("tests/scenarios/switch.yaml"), "--json",
                                           (dir / "with.json").string()});
  ASSERT_EQ(with.exit_code, 0) << with.output;
  EXPECT_NE(with.output.find("plain ns-3 apps"), std::string::npos) << with.output;
  const auto a = nlohmann::json::parse(read_file(dir / "with.json"));
  EXPECT_GT(a["sessions"].get<int>(), 300);
  EXPECT_GT(a["dmm"]["events"].get<double>(), 0);
  EXPECT_GT(a["plain_ns3"]["events"].get<double>(), 0);
  EXPECT_GT(a["overhead_ratio"].get<double>(), 0);

  auto without = run_tool(DMM_SIM_BENCH_BIN, {scenario_path("tests/scenarios/switch.yaml"), "--no-baseline", "--json",
                                              (dir / "without.json").string()});
  ASSERT_EQ(without.exit_code, 0) << without.output;
  EXPECT_EQ(without.output.find("plain ns-3 apps"), std::string::npos) << without.output;
  EXPECT_NE(without.output.find("no baseline (--no-baseline)"), std::string::npos) << without.output;
  const auto b = nlohmann::json::parse(read_file(dir / "without.json"));
  EXPECT_EQ(b["dmm"]["events"], a["dmm"]["events"]);  // the same DMM run: deterministic
  EXPECT_TRUE(b["plain_ns3"].is_null());
  EXPECT_TRUE(b["overhead_ratio"].is_null());
}

TEST(DmmSimCli, PlotFindsTheAnalysisScriptsBesideTheExecutable) {
  // An installation's layout (<prefix>/bin/dmm-sim, <prefix>/share/dmm/analysis/) anywhere: --plot uses the
  // scripts beside the executable, not the source tree it was built from. A stand-in plot_run.py says so.
  const auto prefix = fresh_dir("installed");
  std::filesystem::create_directories(prefix / "bin");
  std::filesystem::create_directories(prefix / "share/dmm/analysis");
  std::filesystem::copy_file(DMM_SIM_BIN, prefix / "bin/dmm-sim");
  {
    std::ofstream script(prefix / "share/dmm/analysis/plot_run.py");
    script << "import pathlib, sys\npathlib.Path(sys.argv[1], 'plotted-by-installed-copy').write_text('yes')\n";
  }
  const auto out = prefix / "results";
  const std::string cmd = "env -u DMM_ANALYSIS_DIR " + shell_quote((prefix / "bin/dmm-sim").string()) + " " +
                          shell_quote(scenario_path("tests/scenarios/switch.yaml")) +
                          " --quiet --set duration=1s --set events=[] --plot --out " + shell_quote(out.string()) +
                          " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_TRUE(std::filesystem::exists(out / "plotted-by-installed-copy"));
}

}  // namespace

namespace {

TEST(DmmSimCli, ACommandWorkloadRunsItsSimulatedEquivalentOrIsRefusedByLine) {
  // command-fetch's curl runs in dmm-emu; dmm-sim runs its `simulate_as:` request-response in its place.
  const auto out = fresh_dir("command-sim");
  auto run = run_sim({scenario_path("scenarios/command-fetch.yaml"), "--out", out.string()});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  const auto rows = read_csv(out / "sessions.csv");
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.front().at("workload"), "fetch");
  EXPECT_EQ(rows.front().at("bytes_received"), "250000");  // the simulated answer, measured

  // The command's timeout holds for its stand-in too: dmm-emu stops the program, dmm-sim the session.
  const auto short_out = out / "timeout";
  auto timed = run_sim({scenario_path("scenarios/command-fetch.yaml"), "--out", short_out.string(), "--set",
                        "workloads.fetch.timeout=50ms", "--set", "expect=[]"});
  EXPECT_EQ(timed.exit_code, 1) << timed.output;  // every session failed: the implicit expectation
  for (const auto& row : read_csv(short_out / "sessions.csv"))
    EXPECT_EQ(row.at("error"), "timed out after 50ms (stopped)") << row.at("session");

  // Without `simulate_as:` dmm-sim cannot run it, and says which workload and where.
  std::ifstream in(scenario_path("scenarios/command-fetch.yaml"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = text.find("    simulate_as:");
  ASSERT_NE(at, std::string::npos);
  text.erase(at, text.find('\n', at) + 1 - at);
  const auto file = out / "no-simulate-as.yaml";
  std::ofstream(file) << text;
  auto refused = run_sim({file.string(), "--out", (out / "refused").string()});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("no-simulate-as.yaml:26:5: workload 'fetch': kind: command runs a real program, "
                                "which only dmm-emu can"),
            std::string::npos)
      << refused.output;
}

}  // namespace
