// `kind: command` workloads in the scenario model: the program's command line, its server, its timeout, and the
// built-in workload dmm-sim runs in its place (`simulate_as:`), which shares the command's name, nodes and
// schedule. The errors are in the bad-scenario corpus (tests/bad-scenarios/command-*.yaml).
#include <gtest/gtest.h>

#include "scenario/scenario.hpp"

namespace dmm::scenario {
namespace {

using namespace std::chrono_literals;

std::string with_workload(const std::string& workload) {
  return R"(name: c
duration: 10s
topology:
  nodes: [a, b]
  links: [{name: l, between: [a, b]}]
stacks: [{name: s, node: a, kind: kernel, link: l}]
policy: [{match: {}, use: [s]}]
workloads:
)" + workload;
}

TEST(CommandWorkload, TheProgramItsServerAndItsSimulatedEquivalentAreTyped) {
  auto r = load_text(with_workload(R"(  - name: fetch
    kind: command
    from: a
    to: b
    port: 8080
    intent: throughput
    start: 1s
    stop: 9s
    rate: 2/s
    run: curl -o /dev/null http://{to}:8080/f
    serve: exec python3 -m http.server 8080
    timeout: 5s
    simulate_as: {kind: request-response, request: 100B, response: 250KB}
)"),
                     "c.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const WorkloadSpec& w = r->workloads.at(0);
  EXPECT_EQ(w.kind, WorkloadKind::command);
  ASSERT_TRUE(w.command);
  EXPECT_EQ(w.command->run, "curl -o /dev/null http://{to}:8080/f");
  EXPECT_EQ(w.command->serve, "exec python3 -m http.server 8080");
  EXPECT_EQ(w.command->timeout, 5s);
  EXPECT_EQ(w.port, 8080);
  ASSERT_TRUE(w.simulate_as);
  const WorkloadSpec& sim = *w.simulate_as;
  EXPECT_EQ(sim.kind, WorkloadKind::request_response);
  EXPECT_FALSE(sim.command);
  EXPECT_EQ(sim.request, 100u);
  EXPECT_EQ(sim.response, 250000u);
  // The command's name, nodes, port, intent and schedule: the same sessions, simulated.
  EXPECT_EQ(sim.name, "fetch");
  EXPECT_EQ(sim.from, "a");
  EXPECT_EQ(sim.to, "b");
  EXPECT_EQ(sim.port, 8080);
  EXPECT_EQ(sim.intent, Intent::throughput);
  EXPECT_EQ(sim.start, 1s);
  EXPECT_EQ(sim.stop, 9s);
  EXPECT_EQ(sim.rate, 2.0);
}

TEST(CommandWorkload, PortAndSimulatedEquivalentAreOptional) {
  auto r = load_text(with_workload("  - {name: x, kind: command, from: a, to: b, run: 'true', count: 3}\n"), "c.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const WorkloadSpec& w = r->workloads.at(0);
  EXPECT_EQ(w.port, 0);
  EXPECT_EQ(w.count, 3u);
  EXPECT_FALSE(w.simulate_as);
  EXPECT_FALSE(w.command->serve);
  EXPECT_FALSE(w.command->timeout);
}

TEST(CommandWorkload, TheSimulatedEquivalentMayNameItsOwnPort) {
  auto r = load_text(with_workload("  - {name: x, kind: command, from: a, to: b, run: 'true',\n"
                                   "     simulate_as: {kind: bulk, size: 1MB, port: 5001}}\n"),
                     "c.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->workloads.at(0).simulate_as->port, 5001);
  EXPECT_EQ(r->workloads.at(0).simulate_as->size, 1000000u);
}

}  // namespace
}  // namespace dmm::scenario
