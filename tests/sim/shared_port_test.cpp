// Issue 16: workloads from many nodes share one server port, as the clients of a real server do; workloads that
// would need different servers on one port are refused before anything runs, naming both.
#include <gtest/gtest.h>

#include <fstream>

#include "run_helpers.hpp"

using namespace dmm::test;

namespace {

TEST(SharedPort, ClientsOfSeveralNodesShareOneServerPort) {
  const auto out = fresh_dir("shared-port");
  auto run = run_sim({scenario_path("tests/scenarios/shared-port.yaml"), "--out", out.string(), "--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::map<std::string, int> completed;
  std::map<std::string, double> sent, delivered;
  for (const auto& row : read_csv(out / "sessions.csv")) {
    const std::string& w = row.at("workload");
    // Each client's sessions on its own node's stack (s1 for c1's workloads, ...): one server, many clients.
    EXPECT_EQ(row.at("stack").back(), w.back()) << w << " on " << row.at("stack");
    if (row.at("completed") == "1") ++completed[w];
    sent[w] += number(row.at("bytes_sent"));
    delivered[w] += number(row.at("bytes_delivered"));
  }
  for (const char* w : {"web1", "web2", "web3"}) EXPECT_GE(completed[w], 40) << w;  // ~20/s for 3 s
  // The shared UDP sink counts each sender's datagrams apart (the links lose nothing).
  for (const char* w : {"cam1", "cam2"}) {
    EXPECT_GT(sent[w], 200'000) << w;
    EXPECT_EQ(delivered[w], sent[w]) << w;
  }
}

TEST(SharedPort, WorkloadsThatNeedDifferentServersOnOnePortAreRefusedNamingBoth) {
  const auto dir = fresh_dir("shared-port-conflict");
  std::filesystem::create_directories(dir);
  const auto file = dir / "conflict.yaml";
  std::ofstream(file) << "name: conflict\nduration: 2s\n"
                         "topology:\n  nodes: [c1, srv]\n  links:\n    - {name: l1, between: [c1, srv], rate: 10Mbps, "
                         "delay: 5ms}\n"
                         "stacks:\n  - {name: s1, node: c1, kind: kernel, link: l1}\n"
                         "policy:\n  - {match: {}, use: [s1]}\n"
                         "workloads:\n"
                         "  - {name: web, kind: request-response, from: c1, to: srv, port: 80, rate: 5/s, request: 300B, "
                         "response: 8KiB}\n"
                         "  - {name: upload, kind: bulk, from: c1, to: srv, port: 80, size: 1MB}\n";
  auto run = run_sim({file.string(), "--out", (dir / "out").string(), "--quiet"});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("conflict.yaml:13:"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("workload 'upload': port 80 on 'srv' is served for workload 'web'"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("give it another port"), std::string::npos) << run.output;
}

}  // namespace
