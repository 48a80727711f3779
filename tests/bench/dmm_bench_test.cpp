// dmm-bench as a program: the kernel suite runs end to end (tiny counts; nothing here looks at how fast anything
// is — benchmarks are not tests) and writes every figure for every variant; bad usage exits 2 with a message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "subprocess.hpp"

namespace dmm::test {
namespace {

const std::string kBench = DMM_BENCH_BIN;

TEST(DmmBench, KernelSuiteMeasuresEveryFigureForEveryVariant) {
  const std::string out = std::filesystem::temp_directory_path() / ("dmm-bench-test-" + std::to_string(getpid()));
  const Outcome o = run({kBench, "kernel", "--quick", "--out", out}, std::chrono::seconds(60));
  ASSERT_TRUE(o.finished && o.exit_code == 0) << o.out << o.err;
  EXPECT_NE(o.out.find("slowdown"), std::string::npos) << o.out;
  std::ifstream in(out + "/kernel.json");
  ASSERT_TRUE(in) << "no kernel.json";
  const nlohmann::json j = nlohmann::json::parse(in);
  std::filesystem::remove_all(out);
  EXPECT_EQ(j["baseline"], "kernel");
  std::set<std::string> keys;
  for (const auto& figure : j["figures"]) {
    keys.insert(figure["key"].get<std::string>());
    for (const char* variant : {"kernel", "shim-same-ns", "shim-netns"}) {
      ASSERT_TRUE(figure["by_variant"].contains(variant)) << figure.dump();
      const auto& v = figure["by_variant"][variant];
      EXPECT_EQ(v["samples"].size(), 1u);
      EXPECT_GT(v["median"].get<double>(), 0) << figure["key"] << " " << variant;
      if (std::string(variant) != "kernel") {
        EXPECT_GT(v["slowdown"].get<double>(), 0);
      }
    }
  }
  EXPECT_EQ(keys, (std::set<std::string>{"p50_us", "p99_us", "gbps", "per_s", "cpu_us_per_rt", "cpu_s_per_gb",
                                         "cpu_us_per_connection"}));
  // Nothing left behind: the lab's namespaces are gone.
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns"))
    EXPECT_NE(entry.path().filename().string().rfind("dmmb-" + std::to_string(getpid()), 0), 0u);
}

// The user-space suites: every figure measured for both variants (tiny counts; no speed asserted).
TEST(DmmBench, LwipAndUdpTxSuitesRunEndToEnd) {
  const std::string out = std::filesystem::temp_directory_path() / ("dmm-bench-lwip-" + std::to_string(getpid()));
  const Outcome o = run({kBench, "lwip", "udp-tx", "--quick", "--out", out}, std::chrono::seconds(90));
  ASSERT_TRUE(o.finished && o.exit_code == 0) << o.out << o.err;
  for (const auto& [suite, variants] : std::map<std::string, std::vector<std::string>>{
           {"lwip", {"kernel", "lwip"}}, {"udp-tx", {"kernel-veth", "lwip-null"}}}) {
    std::ifstream in(out + "/" + suite + ".json");
    ASSERT_TRUE(in) << suite;
    const nlohmann::json j = nlohmann::json::parse(in);
    for (const auto& figure : j["figures"])
      for (const auto& variant : variants) {
        ASSERT_TRUE(figure["by_variant"].contains(variant)) << suite << " " << figure.dump();
        EXPECT_GT(figure["by_variant"][variant]["median"].get<double>(), 0) << suite << " " << figure["key"];
      }
  }
  std::filesystem::remove_all(out);
}

// redis-benchmark and wrk against the same servers over the kernel and over lwIP (in-program and dmm-stackd): each
// program's report is parsed into every figure for every variant (a run with errors fails the suite).
TEST(DmmBench, AppsSuiteRunsRedisBenchmarkAndWrkOverEveryPath) {
  const std::string out = std::filesystem::temp_directory_path() / ("dmm-bench-apps-" + std::to_string(getpid()));
  const Outcome o = run({kBench, "apps", "--quick", "--out", out}, std::chrono::seconds(120));
  ASSERT_TRUE(o.finished && o.exit_code == 0) << o.out << o.err;
  std::ifstream in(out + "/apps.json");
  ASSERT_TRUE(in);
  const nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_EQ(j["figures"].size(), 4u);
  for (const auto& figure : j["figures"])
    for (const std::string variant : {"kernel", "shim-lwip", "stackd-lwip"}) {
      ASSERT_TRUE(figure["by_variant"].contains(variant)) << figure.dump();
      EXPECT_GT(figure["by_variant"][variant]["median"].get<double>(), 0) << figure["key"] << " " << variant;
    }
  std::filesystem::remove_all(out);
}

// UDP from one unconnected socket to 4 servers, on a kernel instance and on an lwip-dpdk instance dmm-stackd runs:
// every reply came back from the server asked (the client fails the run otherwise).
TEST(DmmBench, UdpSuiteRunsEndToEndOverDmmStackd) {
  const std::string out = std::filesystem::temp_directory_path() / ("dmm-bench-udp-" + std::to_string(getpid()));
  const Outcome o = run({kBench, "udp", "--quick", "--out", out}, std::chrono::seconds(90));
  ASSERT_TRUE(o.finished && o.exit_code == 0) << o.out << o.err;
  std::ifstream in(out + "/udp.json");
  ASSERT_TRUE(in);
  const nlohmann::json j = nlohmann::json::parse(in);
  for (const auto& figure : j["figures"])
    for (const std::string variant : {"shim-kernel", "stackd-lwip"}) {
      ASSERT_TRUE(figure["by_variant"].contains(variant)) << figure.dump();
      const double median = figure["by_variant"][variant]["median"].get<double>();
      if (figure["key"] == "lost") EXPECT_EQ(median, 0) << variant;
      else EXPECT_GT(median, 0) << variant << " " << figure["key"];
    }
  std::filesystem::remove_all(out);
}

TEST(DmmBench, BadUsageExitsTwoWithTheReason) {
  Outcome o = run({kBench, "no-such-suite"});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("unknown suite 'no-such-suite'"), std::string::npos) << o.err;
  o = run({kBench, "--rounds", "0"});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("--rounds"), std::string::npos) << o.err;
  o = run({kBench, "--no-such-flag"});
  EXPECT_EQ(o.exit_code, 2);
  o = run({kBench, "client", "--workload", "pingpong", "--to", "10.0.0.1"});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("ADDR:PORT"), std::string::npos) << o.err;
  o = run({kBench, "client", "--workload", "teleport", "--to", "10.0.0.1:80"});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("unknown workload 'teleport'"), std::string::npos) << o.err;
  o = run({kBench, "client", "--workload", "udp-pingpong", "--to", "10.0.0.1:65535", "--peers", "2"});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("--peers 2"), std::string::npos) << o.err;
  o = run({kBench, "client", "--workload", "bulk", "--to", "10.0.0.1:80", "--duration", "fast"});
  EXPECT_EQ(o.exit_code, 2);
  o = run({kBench, "--help"});
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_NE(o.out.find("kernel:"), std::string::npos) << o.out;
}

}  // namespace
}  // namespace dmm::test
