// The scenario loader: good scenarios typed field by field, `--set` overrides, plug-in kinds, and a corpus of
// bad scenarios (tests/bad-scenarios/*.yaml) that must each fail at a stated position with a stated message.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "../common/bad_corpus.hpp"
#include "scenario/scenario.hpp"

namespace dmm::scenario {
namespace {

using namespace std::chrono_literals;

// The DESIGN.md §2.1 example plus one of everything else.
constexpr const char* kFull = R"(name: two-paths-failover
description: does the client move to the slow path when the fast one degrades?
seed: 7
duration: 30s
topology:
  nodes: [client, server, backup]
  links:
    - {name: wan-a, between: [client, server], rate: 100Mbps, delay: 10ms, loss: 0}
    - {name: wan-b, between: [client, server], rate: 20Mbps,  delay: 40ms, loss: 0.01}
    - {name: wan-c, between: [backup, server], rate: 1Gbps, delay: 500us}
stacks:
  - {name: fast, node: client, kind: kernel,    link: wan-a, tcp: cubic}
  - {name: slow, node: client, kind: lwip-dpdk, link: wan-b, tcp: newreno, processing_delay: 20us, time_wait: 5s}
  - {name: any, node: [client, server], kind: ns3, link: wan-a, tcp: bbr}
  - {name: edge, node: backup, kind: ns3, link: wan-c}
nrd:
  algorithm: min-rtt
  period: 500ms
  params: {hysteresis: 0.25}
  sync_delay: 5ms
  probe_interval: 0
policy:
  - {match: {dst: server, intent: latency}, use: [fast, slow]}
  - {match: {dst: 10.1.0.0/16, port: 8000-8100, proto: udp}, use: [slow]}
  - {match: {dst: "2001:db8::/32", port: 443}, use: [any]}
  - {match: {}, use: [fast, slow, edge]}  # edge: video (from backup) must reach server
workloads:
  - {name: rpc,  kind: request-response, from: client, to: server, port: 80, intent: latency,
     start: 0s, stop: 30s, rate: 50/s, request: 200B, response: 16KiB}
  - {name: bulk, kind: bulk, from: client, to: server, port: 5001, intent: throughput,
     start: 1s, size: 50MB, count: 3}
  - {name: video, kind: on-off, from: backup, to: server, port: 9000, proto: udp,
     on: 2s, off: 500ms, send_rate: 5Mbps}
events:
  - {at: 10s, link: wan-a, set: {delay: 200ms}}
  - {at: 12s, link: wan-b, set: {rate: 10Mbps, loss: 0.05}}
  - {at: 20s, link: wan-a, down: true}
  - {at: 22s, link: wan-a, up: true}
  - {at: 23s, stack: slow, fail: true}
  - {at: 24s, stack: slow, recover: true}
  - {at: 25s, nrd: stop}
  - {at: 30s, nrd: start}
expect:
  - {between: [12s, 20s], workload: rpc, stack: slow, share_at_least: 0.9}
  - {workload: bulk, completed: true}
  - {workload: rpc, completed_at_least: 0.99, sessions_at_least: 100, median_completion_at_most: 100ms}
  - {stack: fast, share_at_most: 0.5, policy_changes_at_most: 4}
nsocket: {connect_timeout: 2s, sample_interval: 100ms}
)";

// The smallest scenario the loader accepts.
constexpr const char* kMinimal = R"(name: minimal
duration: 10s
topology:
  nodes: [a, b]
  links: [{name: l, between: [a, b]}]
stacks: [{name: s, node: a, kind: kernel, link: l}]
policy: [{match: {}, use: [s]}]
workloads: [{name: w, kind: bulk, from: a, to: b, port: 5001, size: 1MB}]
)";

Scenario load_ok(const std::string& text, const LoadOptions& options = {}) {
  auto r = load_text(text, "test.yaml", options);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(r).value() : Scenario{};
}

std::string load_error(const std::string& text, const LoadOptions& options = {}) {
  auto r = load_text(text, "test.yaml", options);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return {};
  EXPECT_EQ(r.error().code, EINVAL);
  return r.error().message;
}

TEST(ScenarioLoader, ParsesTopLevelAndTopology) {
  const Scenario s = load_ok(kFull);
  EXPECT_EQ(s.file, "test.yaml");
  EXPECT_EQ(s.name, "two-paths-failover");
  EXPECT_EQ(s.description, "does the client move to the slow path when the fast one degrades?");
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.duration, 30s);
  EXPECT_EQ(s.nodes, (std::vector<std::string>{"client", "server", "backup"}));
  ASSERT_EQ(s.links.size(), 3u);
  EXPECT_EQ(s.links[0].name, "wan-a");
  EXPECT_EQ(s.links[0].a, "client");
  EXPECT_EQ(s.links[0].b, "server");
  EXPECT_EQ(s.links[0].rate.value, 100e6);
  EXPECT_EQ(s.links[0].delay, 10ms);
  EXPECT_EQ(s.links[0].loss, 0);
  EXPECT_EQ(s.links[0].mark.line, 8);
  EXPECT_EQ(s.links[0].mark.column, 7);
  EXPECT_EQ(s.links[1].rate.value, 20e6);
  EXPECT_EQ(s.links[1].loss, 0.01);
  EXPECT_EQ(s.links[2].rate.value, 1e9);
  EXPECT_EQ(s.links[2].delay, 500us);
  EXPECT_EQ(s.find_link("wan-b"), &s.links[1]);
  EXPECT_EQ(s.find_link("nope"), nullptr);
  EXPECT_EQ(s.node_index("server"), 1);
  EXPECT_EQ(s.node_index("nope"), -1);
  EXPECT_EQ(s.nsocket.connect_timeout, 2s);
  EXPECT_EQ(s.nsocket.sample_interval, 100ms);
}

TEST(ScenarioLoader, ParsesStacksAndExpandsNodeLists) {
  const Scenario s = load_ok(kFull);
  ASSERT_EQ(s.stacks.size(), 5u);
  EXPECT_EQ(s.stacks[0].name, "fast");
  EXPECT_EQ(s.stacks[0].node, "client");
  EXPECT_EQ(s.stacks[0].kind, "kernel");
  EXPECT_EQ(s.stacks[0].link, "wan-a");
  EXPECT_EQ(s.stacks[0].tcp, "cubic");
  EXPECT_EQ(s.stacks[0].processing_delay, 0ns);
  EXPECT_FALSE(s.stacks[0].time_wait);  // the kind's own
  EXPECT_EQ(s.stacks[1].kind, "lwip-dpdk");
  EXPECT_EQ(s.stacks[1].tcp, "newreno");
  EXPECT_EQ(s.stacks[1].processing_delay, 20us);
  EXPECT_EQ(s.stacks[1].time_wait, std::optional<Duration>(5s));
  // `node: [client, server]` is one instance per node, same name.
  EXPECT_EQ(s.stacks[2].name, "any");
  EXPECT_EQ(s.stacks[2].node, "client");
  EXPECT_EQ(s.stacks[3].name, "any");
  EXPECT_EQ(s.stacks[3].node, "server");
  EXPECT_EQ(s.stacks[3].tcp, "bbr");
  EXPECT_EQ(s.stacks[3].mark.line, s.stacks[2].mark.line);
}

TEST(ScenarioLoader, ParsesNrdAndPolicy) {
  const Scenario s = load_ok(kFull);
  EXPECT_TRUE(s.nrd.enabled);
  EXPECT_EQ(s.nrd.algorithm, "min-rtt");
  EXPECT_EQ(s.nrd.period, 500ms);
  EXPECT_EQ(s.nrd.params, (AlgorithmParams{{"hysteresis", 0.25}}));
  EXPECT_EQ(s.nrd.sync_delay, 5ms);
  EXPECT_EQ(s.nrd.probe_interval, 0ns);

  ASSERT_EQ(s.policy.size(), 4u);
  const Rule& r0 = s.policy[0].rule;
  ASSERT_TRUE(r0.match.dst);
  EXPECT_EQ(*r0.match.dst, IpPrefix::host(node_address(1)));
  EXPECT_EQ(r0.match.dst->to_string(), "10.255.0.2/32");
  EXPECT_EQ(s.policy[0].dst_text, "server");
  EXPECT_EQ(r0.match.intent, Intent::latency);
  EXPECT_FALSE(r0.match.ports);
  EXPECT_FALSE(r0.match.proto);
  EXPECT_EQ(r0.use, (std::vector<StackId>{"fast", "slow"}));

  const Rule& r1 = s.policy[1].rule;
  EXPECT_EQ(r1.match.dst->to_string(), "10.1.0.0/16");
  EXPECT_EQ(r1.match.ports, (PortRange{8000, 8100}));
  EXPECT_EQ(r1.match.proto, L4Proto::udp);
  EXPECT_EQ(s.policy[2].rule.match.dst->address.family, IpFamily::v6);
  EXPECT_EQ(s.policy[2].rule.match.ports, (PortRange{443, 443}));
  EXPECT_EQ(s.policy[3].rule.match, Match{});
  EXPECT_FALSE(s.policy[3].dst_text);
  EXPECT_EQ(s.policy[3].mark.line, 26);
}

TEST(ScenarioLoader, ParsesWorkloads) {
  const Scenario s = load_ok(kFull);
  ASSERT_EQ(s.workloads.size(), 3u);
  const WorkloadSpec& rpc = s.workloads[0];
  EXPECT_EQ(rpc.kind, WorkloadKind::request_response);
  EXPECT_EQ(rpc.from, "client");
  EXPECT_EQ(rpc.to, "server");
  EXPECT_EQ(rpc.port, 80);
  EXPECT_EQ(rpc.intent, Intent::latency);
  EXPECT_EQ(rpc.proto, L4Proto::tcp);
  EXPECT_EQ(rpc.start, 0s);
  EXPECT_EQ(rpc.stop, 30s);
  EXPECT_EQ(rpc.rate, 50.0);
  EXPECT_EQ(rpc.request, 200u);
  EXPECT_EQ(rpc.response, 16u * 1024);

  const WorkloadSpec& bulk = s.workloads[1];
  EXPECT_EQ(bulk.kind, WorkloadKind::bulk);
  EXPECT_EQ(bulk.intent, Intent::throughput);
  EXPECT_EQ(bulk.start, 1s);
  EXPECT_FALSE(bulk.stop);
  EXPECT_FALSE(bulk.rate);
  EXPECT_EQ(bulk.count, 3u);
  EXPECT_EQ(bulk.size, 50'000'000u);

  const WorkloadSpec& video = s.workloads[2];
  EXPECT_EQ(video.kind, WorkloadKind::on_off);
  EXPECT_EQ(video.from, "backup");
  EXPECT_EQ(video.proto, L4Proto::udp);
  EXPECT_EQ(video.intent, Intent::default_);
  EXPECT_EQ(video.on, 2s);
  EXPECT_EQ(video.off, 500ms);
  EXPECT_EQ(video.send_rate.value, 5e6);
}

TEST(ScenarioLoader, ParsesEvents) {
  const Scenario s = load_ok(kFull);
  ASSERT_EQ(s.events.size(), 8u);
  const EventSpec& e0 = s.events[0];
  EXPECT_EQ(e0.at, 10s);
  EXPECT_EQ(e0.target, EventTarget::link);
  EXPECT_EQ(e0.name, "wan-a");
  EXPECT_EQ(e0.delay, 200ms);
  EXPECT_FALSE(e0.rate);
  EXPECT_FALSE(e0.down);
  EXPECT_EQ(e0.as_text, "set delay=200ms");
  EXPECT_EQ(s.events[1].rate->value, 10e6);
  EXPECT_EQ(s.events[1].loss, 0.05);
  EXPECT_EQ(s.events[1].as_text, "set rate=10Mbps loss=0.05");
  EXPECT_EQ(s.events[2].down, true);
  EXPECT_EQ(s.events[2].as_text, "down");
  EXPECT_EQ(s.events[3].down, false);
  EXPECT_EQ(s.events[3].as_text, "up");
  EXPECT_EQ(s.events[4].target, EventTarget::stack);
  EXPECT_EQ(s.events[4].name, "slow");
  EXPECT_EQ(s.events[4].fail, true);
  EXPECT_EQ(s.events[4].as_text, "fail");
  EXPECT_EQ(s.events[5].fail, false);
  EXPECT_EQ(s.events[5].as_text, "recover");
  EXPECT_EQ(s.events[6].target, EventTarget::nrd);
  EXPECT_EQ(s.events[6].nrd_running, false);
  EXPECT_EQ(s.events[6].as_text, "stop");
  EXPECT_EQ(s.events[7].at, 30s);  // the last instant of the run is inside it
  EXPECT_EQ(s.events[7].nrd_running, true);
}

TEST(ScenarioLoader, ParsesExpectations) {
  const Scenario s = load_ok(kFull);
  ASSERT_EQ(s.expect.size(), 4u);
  const ExpectSpec& e0 = s.expect[0];
  EXPECT_EQ(e0.from, 12s);
  EXPECT_EQ(e0.to, 20s);
  EXPECT_EQ(e0.workload, "rpc");
  EXPECT_EQ(e0.stack, "slow");
  EXPECT_EQ(e0.share_at_least, 0.9);
  EXPECT_FALSE(e0.share_at_most);
  EXPECT_EQ(e0.as_text, "{between: [12s, 20s], workload: rpc, stack: slow, share_at_least: 0.9}");
  EXPECT_EQ(s.expect[1].completed, true);
  EXPECT_FALSE(s.expect[1].from);
  EXPECT_EQ(s.expect[2].completed_at_least, 0.99);
  EXPECT_EQ(s.expect[2].sessions_at_least, 100u);
  EXPECT_EQ(s.expect[2].median_completion_at_most, 100ms);
  EXPECT_EQ(s.expect[3].share_at_most, 0.5);
  EXPECT_EQ(s.expect[3].policy_changes_at_most, 4u);
}

TEST(ScenarioLoader, AppliesDefaults) {
  const Scenario s = load_ok(kMinimal);
  EXPECT_EQ(s.seed, 1u);
  EXPECT_TRUE(s.description.empty());
  EXPECT_FALSE(s.nrd.enabled);  // no `nrd:` section
  EXPECT_EQ(s.links[0].rate.value, 100e6);
  EXPECT_EQ(s.links[0].delay, 1ms);
  EXPECT_EQ(s.links[0].loss, 0);
  EXPECT_EQ(s.stacks[0].tcp, "cubic");
  EXPECT_EQ(s.stacks[0].processing_delay, 0ns);
  EXPECT_TRUE(s.stacks[0].params.empty());
  const WorkloadSpec& w = s.workloads[0];
  EXPECT_EQ(w.intent, Intent::default_);
  EXPECT_EQ(w.proto, L4Proto::tcp);
  EXPECT_EQ(w.start, 0s);
  EXPECT_FALSE(w.stop);
  EXPECT_FALSE(w.rate);
  EXPECT_EQ(w.count, 1u);
  EXPECT_TRUE(s.events.empty());
  EXPECT_TRUE(s.expect.empty());
  EXPECT_TRUE(s.plugins.empty());
  EXPECT_EQ(s.nsocket.connect_timeout, 1s);
  EXPECT_EQ(s.nsocket.sample_interval, 250ms);
}

TEST(ScenarioLoader, NrdSectionDefaults) {
  const Scenario s = load_ok(std::string(kMinimal) + "nrd: {}\n");
  EXPECT_TRUE(s.nrd.enabled);
  EXPECT_EQ(s.nrd.algorithm, "static");
  EXPECT_EQ(s.nrd.period, 500ms);
  EXPECT_TRUE(s.nrd.params.empty());
  EXPECT_EQ(s.nrd.sync_delay, 5ms);
  EXPECT_EQ(s.nrd.probe_interval, 1s);
  EXPECT_FALSE(load_ok(std::string(kMinimal) + "nrd: {enabled: false}\n").nrd.enabled);
}

TEST(ScenarioLoader, NodeAddresses) {
  EXPECT_EQ(node_address(0).to_string(), "10.255.0.1");
  EXPECT_EQ(node_address(249).to_string(), "10.255.0.250");
  EXPECT_EQ(node_address(250).to_string(), "10.255.1.1");
  EXPECT_EQ(node_address(63999).to_string(), "10.255.255.250");
}

TEST(ScenarioLoader, SeedOptionOverridesTheFile) {
  LoadOptions options;
  options.seed = 99;
  EXPECT_EQ(load_ok(kFull, options).seed, 99u);
  EXPECT_EQ(load_ok(kFull).seed, 7u);
}

TEST(ScenarioLoader, OverridesEditTheTreeBeforeTyping) {
  LoadOptions options;
  options.overrides = {"duration=10s",
                       "nrd.algorithm=max-goodput",
                       "nrd.params.hysteresis=0.3",
                       "topology.links.wan-a.delay=50ms",
                       "workloads.rpc.rate=10/s",
                       "workloads.rpc.stop=10s",
                       "stacks.0.tcp=bbr",
                       "stacks.slow.processing_delay=1ms",
                       "expect=[]",
                       "events=",
                       "policy=[{match: {port: 22}, use: [slow]}, {match: {}, use: [fast, edge]}]",
                       "seed=3"};
  const Scenario s = load_ok(kFull, options);
  EXPECT_EQ(s.duration, 10s);
  EXPECT_EQ(s.nrd.algorithm, "max-goodput");
  EXPECT_EQ(s.nrd.params.at("hysteresis"), 0.3);
  EXPECT_EQ(s.links[0].delay, 50ms);
  EXPECT_EQ(s.links[1].delay, 40ms);
  EXPECT_EQ(*s.workloads[0].rate, 10.0);
  EXPECT_EQ(s.stacks[0].tcp, "bbr");
  EXPECT_EQ(s.stacks[1].processing_delay, 1ms);
  EXPECT_TRUE(s.expect.empty());
  EXPECT_TRUE(s.events.empty());
  ASSERT_EQ(s.policy.size(), 2u);
  EXPECT_EQ(s.policy[0].rule.match.ports, (PortRange{22, 22}));
  EXPECT_EQ(s.seed, 3u);
}

TEST(ScenarioLoader, OverridesAddKeysToExistingMaps) {
  LoadOptions options;
  options.overrides = {"nrd={algorithm: weighted}", "nrd.params={loss_weight: 3}", "topology.links.l.loss=0.5"};
  const Scenario s = load_ok(kMinimal, options);
  EXPECT_TRUE(s.nrd.enabled);
  EXPECT_EQ(s.nrd.params.at("loss_weight"), 3.0);
  EXPECT_EQ(s.links[0].loss, 0.5);
}

TEST(ScenarioLoader, OverrideOfAnAliasedValueChangesOnlyItsPath) {
  const std::string text = R"(name: alias
duration: 10s
topology:
  nodes: [a, b]
  links:
    - {name: l1, between: [a, b], delay: &d 10ms}
    - {name: l2, between: [a, b], delay: *d}
stacks: [{name: s, node: a, kind: kernel, link: l1}]
policy: [{match: {}, use: [s]}]
workloads: [{name: w, kind: bulk, from: a, to: b, port: 5001, size: 1MB}]
)";
  LoadOptions options;
  options.overrides = {"topology.links.l1.delay=50ms"};
  const Scenario s = load_ok(text, options);
  EXPECT_EQ(s.links[0].delay, 50ms);
  EXPECT_EQ(s.links[1].delay, 10ms);
}

TEST(ScenarioLoader, BadOverridesNameTheKey) {
  const auto error_for = [](std::string o) {
    LoadOptions options;
    options.overrides = {std::move(o)};
    return load_error(kFull, options);
  };
  EXPECT_EQ(error_for("nosuch.x=1").rfind("--set nosuch.x: the scenario has no key 'nosuch'", 0), 0u)
      << error_for("nosuch.x=1");
  EXPECT_EQ(error_for("stacks.9.tcp=bbr").rfind("--set stacks.9.tcp: 'stacks' has no item '9'", 0), 0u);
  EXPECT_EQ(error_for("topology.links.nope.delay=1s").rfind("--set topology.links.nope.delay: ", 0), 0u);
  EXPECT_EQ(error_for("duration.x=1").rfind("--set duration.x: 'duration' is `30s`, not a map or a list", 0), 0u);
  EXPECT_EQ(error_for("duration").rfind("--set duration: expected KEY=VALUE", 0), 0u);
  EXPECT_EQ(error_for("a..b=1").rfind("--set a..b: empty component", 0), 0u);
  EXPECT_EQ(error_for("duration=\"abc").rfind("--set duration: invalid YAML", 0), 0u);
  // The value is typed like the file: a bare number has no unit.
  EXPECT_EQ(error_for("duration=10").rfind("--set duration: duration: duration '10' needs a unit", 0), 0u);
  // A new key in an existing map is allowed by --set, then rejected by the schema.
  EXPECT_EQ(error_for("nrd.colour=blue").rfind("--set nrd.colour: nrd: unknown key 'colour'", 0), 0u);
}

// A stack kind from a plug-in, registered here directly (the registry does not care where it came from).
StackRegistry registry_with_relay() {
  StackRegistry registry;
  const Status added = registry.add(StackKind{"relay", {"via", "buffer"}, [](const StackConfig&, StackWorld&) {
                                                return Result<std::unique_ptr<Stack>>(make_error(ENOSYS, "test"));
                                              }});
  EXPECT_TRUE(added.ok());
  return registry;
}

constexpr const char* kRelayStack = R"(name: plugin
duration: 10s
topology:
  nodes: [a, b]
  links: [{name: l, between: [a, b]}]
stacks:
  - {name: s, node: a, kind: kernel, link: l}
  - {name: r, node: a, kind: relay, link: l, via: s, buffer: 64KiB}
policy: [{match: {}, use: [r, s]}]
workloads: [{name: w, kind: bulk, from: a, to: b, port: 5001, size: 1MB}]
)";

TEST(ScenarioLoader, PluginKindsComeFromTheRegistry) {
  StackRegistry registry = registry_with_relay();
  LoadOptions options;
  options.registry = &registry;
  const Scenario s = load_ok(kRelayStack, options);
  ASSERT_EQ(s.stacks.size(), 2u);
  EXPECT_EQ(s.stacks[0].kind, "kernel");  // built-in kinds stay available next to the registry's
  EXPECT_EQ(s.stacks[1].kind, "relay");
  EXPECT_EQ(s.stacks[1].params, (std::map<std::string, std::string>{{"via", "s"}, {"buffer", "64KiB"}}));

  options.overrides = {"stacks.r.colour=red"};
  EXPECT_EQ(load_error(kRelayStack, options)
                .rfind("--set stacks.r.colour: stacks.r: unknown key 'colour' for a stack of kind 'relay' "
                       "(allowed: name, node, kind, link, tcp, processing_delay, time_wait, via, buffer)",
                       0),
            0u);
  // Built-in kinds have no extra keys.
  options.overrides = {"stacks.s.via=r"};
  EXPECT_NE(load_error(kRelayStack, options).find("unknown key 'via' for a stack of kind 'kernel'"), std::string::npos);
}

TEST(ScenarioLoader, PluginKindsNeedARegistry) {
  const std::string e = load_error(kRelayStack);
  EXPECT_EQ(e.rfind("test.yaml:8:30: stacks.r.kind: unknown stack kind 'relay'", 0), 0u) << e;
}

TEST(ScenarioLoader, PluginPathsAreRelativeToTheFileAndLoadedIntoTheRegistry) {
  const std::string text = std::string(kMinimal) + "plugins: [lib/missing.so, /abs/other.so]\n";
  auto r = load_text(text, "dir/sub/x.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;  // no registry: recorded, not loaded
  EXPECT_EQ(r->plugins, (std::vector<std::string>{"dir/sub/lib/missing.so", "/abs/other.so"}));
  EXPECT_EQ(load_ok(std::string(kMinimal) + "plugins: [p.so]\n").plugins,
            (std::vector<std::string>{"p.so"}));

  StackRegistry registry;
  LoadOptions options;
  options.registry = &registry;
  auto failed = load_text(text, "dir/sub/x.yaml", options);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message.rfind("dir/sub/x.yaml:9:11: plugins.0: cannot load plug-in 'dir/sub/lib/missing.so'", 0), 0u)
      << failed.error().message;
}

TEST(ScenarioLoader, CustomAlgorithmRegistry) {
  AlgorithmRegistry algorithms;
  ASSERT_TRUE(algorithms
                  .add(AlgorithmKind{"mine", {{"alpha", 1.0}},
                                     [](const AlgorithmParams&) { return std::unique_ptr<PolicyAlgorithm>(); }})
                  .ok());
  LoadOptions options;
  options.algorithms = &algorithms;
  const Scenario s = load_ok(std::string(kMinimal) + "nrd: {algorithm: mine, params: {alpha: 2.5}}\n", options);
  EXPECT_EQ(s.nrd.params.at("alpha"), 2.5);
  EXPECT_NE(load_error(std::string(kMinimal) + "nrd: {algorithm: min-rtt}\n", options)
                .find("unknown algorithm 'min-rtt' (algorithms: mine)"),
            std::string::npos);
}

TEST(ScenarioLoader, AlgorithmJudgesItsOwnParameterValues) {
  const std::string e = load_error(std::string(kMinimal) + "nrd: {algorithm: min-rtt, params: {hysteresis: 1.5}}\n");
  EXPECT_EQ(e.rfind("test.yaml:9:35: nrd.params: ", 0), 0u) << e;
  EXPECT_NE(e.find("hysteresis must be in [0, 1)"), std::string::npos) << e;
}

TEST(ScenarioLoader, MissingFileIsAnErrorAtTheStart) {
  auto r = load_file("/nonexistent/dir/x.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EINVAL);
  EXPECT_EQ(r.error().message.rfind("/nonexistent/dir/x.yaml:1:1: cannot read", 0), 0u) << r.error().message;
  auto dir = load_file(DMM_BAD_SCENARIOS);
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message.find(":1:1: is a directory"), std::string::npos);
}

TEST(ScenarioLoader, RejectsHugeInputWithoutParsingIt) {
  const std::string huge(17u << 20, '#');
  const std::string e = load_error(huge);
  EXPECT_EQ(e.rfind("test.yaml:1:1: larger than 16 MiB", 0), 0u) << e.substr(0, 200);
}

TEST(ScenarioLoader, RejectsDeepNestingWithoutRecursingIntoIt) {
  const std::string deep = "name: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  EXPECT_EQ(load_error(deep).rfind("test.yaml:1:71: nesting deeper than 64 levels", 0), 0u);
}

// yaml-cpp queues every token of a line (or of a flow collection) that might still be a key, so these are
// refused before it sees them: otherwise a 16 MiB line of `[` costs gigabytes.
TEST(ScenarioLoader, BoundsLinesAndFlowCollectionsBeforeYamlCppSeesThem) {
  const std::string long_line = "name: " + std::string(2u << 20, 'a') + "\n";
  EXPECT_EQ(load_error(long_line).rfind("test.yaml:1:1048577: line longer than 1 MiB", 0), 0u);
  std::string long_flow = "name: x\nseed: [\n";
  while (long_flow.size() < (2u << 20)) long_flow += "  1, 2, 3, 4, 5, 6, 7, 8, 9, 10,\n";
  EXPECT_EQ(load_error(long_flow).rfind("test.yaml:2:7: a flow collection ('[...]' or '{...}') longer than 1 MiB", 0),
            0u);
  const std::string storm(4u << 20, '[');
  EXPECT_EQ(load_error(storm).rfind("test.yaml:1:65: nesting deeper than 64 levels", 0), 0u);
  // Brackets in quoted text, comments and block scalars are text, not nesting.
  const std::string text = std::string(kMinimal) + "description: |\n  " + std::string(100, '[') +
                           "\n  " + std::string(100, '{') + " it's\n# " + std::string(100, '[') + "\n";
  EXPECT_EQ(load_ok(text).description, std::string(100, '[') + "\n" + std::string(100, '{') + " it's\n");
  const std::string quoted = std::string(kMinimal) + "description: '" + std::string(100, '[') + " it''s'\n";
  EXPECT_EQ(load_ok(quoted).description, std::string(100, '[') + " it's");
  const std::string dquoted = std::string(kMinimal) + "description: \"" + std::string(100, '{') + " \\\" x\"\n";
  EXPECT_EQ(load_ok(dquoted).description, std::string(100, '{') + " \" x");
}

TEST(ScenarioLoader, LoadsFromFile) {
  const auto path = std::filesystem::temp_directory_path() / "dmm_loader_test_minimal.yaml";
  {
    std::ofstream out(path);
    out << kMinimal;
  }
  auto r = load_file(path.string());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->file, path.string());
  EXPECT_EQ(r->name, "minimal");
  std::filesystem::remove(path);
}

TEST(ScenarioLoader, AcceptsUtf8BomQuotesCommentsAndBlockStyle) {
  const std::string text = "\xEF\xBB\xBF# a comment\n\t# an indented comment may use tabs\n" + std::string(R"(name: "quoted"
description: |
  Café -- a block scalar
  over two lines.
duration: '10s'
topology:
  nodes:
    - a
    - b
  links:
    - name: l
      between: [a, b]
      loss: 0.5
stacks:
  - name: s
    node: a
    kind: kernel
    link: l
policy:
  - match: {port: "5001"}
    use: [s]
workloads: [{name: w, kind: bulk, from: a, to: b, port: "5001", size: 1MB}]
)");
  const Scenario s = load_ok(text);
  EXPECT_EQ(s.name, "quoted");
  EXPECT_EQ(s.description, "Caf\xC3\xA9 -- a block scalar\nover two lines.\n");
  EXPECT_EQ(s.duration, 10s);
  EXPECT_EQ(s.links[0].loss, 0.5);
  EXPECT_EQ(s.links[0].mark.line, 13);
  EXPECT_EQ(s.workloads[0].port, 5001);
}

TEST(ScenarioLoader, AnchorsAndAliasesAreExpanded) {
  const std::string text = R"(name: alias
duration: 10s
topology:
  nodes: &nodes [a, b]
  links:
    - {name: l1, between: *nodes}
    - {name: l2, between: *nodes}
stacks: [{name: s, node: *nodes, kind: kernel, link: l1}]
policy: [&rule {match: {}, use: [s]}]
workloads: [{name: w, kind: bulk, from: a, to: b, port: 5001, size: 1MB}]
)";
  const Scenario s = load_ok(text);
  EXPECT_EQ(s.links[1].a, "a");
  EXPECT_EQ(s.links[1].b, "b");
  EXPECT_EQ(s.stacks.size(), 2u);
}

TEST(ScenarioLoader, ErrorsPointAtTheOffendingKeyOrValue) {
  // An unknown key: at the key, listing the allowed ones.
  EXPECT_EQ(load_error(std::string(kMinimal) + "nsocket: {timeout: 1s}\n"),
            "test.yaml:9:11: nsocket: unknown key 'timeout' (allowed: connect_timeout, sample_interval, "
            "local_failure_threshold, local_retry_after)");
  // A bad value: at the value.
  EXPECT_EQ(load_error(std::string(kMinimal) + "nsocket: {connect_timeout: 0s}\n"),
            "test.yaml:9:28: nsocket.connect_timeout: connect_timeout must be longer than 0s");
  // A missing key: at the map that lacks it.
  EXPECT_EQ(load_error(std::string(kMinimal) + "events: [{at: 1s, link: l, set: {}}]\n"),
            "test.yaml:9:33: events.0.set: nothing to set (rate, delay or loss)");
  // A duplicate key: at the second one.
  EXPECT_EQ(load_error(std::string(kMinimal) + "seed: 1\nseed: 2\n"), "test.yaml:10:1: duplicate key 'seed' (first at line 9)");
}

TEST(ScenarioLoader, SetOverridesSelectListItemsByName) {
  LoadOptions options;
  options.overrides = {"stacks.fast.tcp=vegas", "stacks.slow.tcp=htcp"};
  const Scenario s = load_ok(kFull, options);
  EXPECT_EQ(s.stacks[0].tcp, "vegas");
  EXPECT_EQ(s.stacks[1].tcp, "htcp");
}

// A hostile file near the limits must not turn a name lookup per reference into minutes: every lookup is
// hashed, so 10^4 of everything (3 MB) loads in seconds, bounded by yaml-cpp itself.
TEST(ScenarioLoader, LargeScenarioLoadsInLinearTime) {
  constexpr int kCount = 10000;
  std::ostringstream y;
  y << "name: large\nduration: 100s\nnrd: {}\ntopology:\n  nodes: [hub";
  for (int i = 0; i < kCount; ++i) y << ", n" << i;
  y << "]\n  links:\n";
  for (int i = 0; i < kCount; ++i) y << "    - {name: l" << i << ", between: [n" << i << ", hub]}\n";
  y << "stacks:\n";
  for (int i = 0; i < kCount; ++i) y << "  - {name: s" << i << ", node: n" << i << ", kind: kernel, link: l" << i << "}\n";
  y << "policy:\n";
  // Each workload has its own rule (its port) ranking its node's stack, so that every one can reach the hub.
  for (int i = 0; i < kCount; ++i) y << "  - {match: {dst: hub, port: " << 1000 + i << "}, use: [s" << i << "]}\n";
  y << "workloads:\n";
  for (int i = 0; i < kCount; ++i)
    y << "  - {name: w" << i << ", kind: bulk, from: n" << i << ", to: hub, port: " << 1000 + i << ", size: 1MB}\n";
  y << "events:\n";
  for (int i = 0; i < kCount; ++i) y << "  - {at: 1s, stack: s" << i << ", fail: true}\n";
  y << "expect:\n";
  for (int i = 0; i < kCount; ++i) y << "  - {workload: w" << i << ", stack: s" << i << ", share_at_least: 1}\n";
  const auto started = std::chrono::steady_clock::now();
  const Scenario s = load_ok(y.str());
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(s.workloads.size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(s.policy.back().rule.match.dst->to_string(), node_address(0).to_string() + "/32");
  EXPECT_EQ(s.policy.back().rule.match.ports->first, 1000 + kCount - 1);
  EXPECT_LT(took, 10s);  // ~1.5 s in Release, nearly all of it yaml-cpp's own parsing
}

// ---- Issue 12 --------------------------------------------------------------------------------------------------

// Three client nodes with a `fast` stack each: one name, three instances.
constexpr const char* kThreeClients = R"(name: three
duration: 10s
topology:
  nodes: [c0, c1, c2, srv]
  links:
    - {name: a0, between: [c0, srv]}
    - {name: a1, between: [c1, srv]}
    - {name: a2, between: [c2, srv]}
stacks:
  - {name: fast, node: c0, kind: kernel, link: a0, tcp: cubic}
  - {name: fast, node: c1, kind: kernel, link: a1, tcp: cubic}
  - {name: fast, node: c2, kind: kernel, link: a2, tcp: cubic}
nrd: {algorithm: min-rtt, params: {hysteresis: 0.3}}
policy: [{match: {}, use: [fast]}]
workloads: [{name: w, kind: bulk, from: c1, to: srv, port: 5001, size: 1MB}]
)";

TEST(ScenarioLoader, SetOnAStackNameEditsEveryInstanceOfIt) {
  LoadOptions options;
  options.overrides = {"stacks.fast.tcp=bbr"};
  const Scenario s = load_ok(kThreeClients, options);
  ASSERT_EQ(s.stacks.size(), 3u);
  for (const auto& st : s.stacks) EXPECT_EQ(st.tcp, "bbr") << st.node;  // before: c0's only
  // An index still edits one item.
  options.overrides = {"stacks.1.tcp=vegas"};
  const Scenario one = load_ok(kThreeClients, options);
  EXPECT_EQ(one.stacks[0].tcp, "cubic");
  EXPECT_EQ(one.stacks[1].tcp, "vegas");
  EXPECT_EQ(one.stacks[2].tcp, "cubic");
}

TEST(ScenarioLoader, SetOfTheAlgorithmDropsTheFilesParametersItDoesNotTake) {
  LoadOptions options;
  options.overrides = {"nrd.algorithm=static"};
  const Scenario s = load_ok(kThreeClients, options);  // before: "algorithm 'static' takes no parameters"
  EXPECT_EQ(s.nrd.algorithm, "static");
  EXPECT_TRUE(s.nrd.params.empty());
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_EQ(s.warnings[0], "--set nrd.algorithm=static: nrd.params.hysteresis (from test.yaml:13) is not a parameter "
                           "of 'static': dropped");
  // Parameters the new algorithm does take are kept.
  options.overrides = {"nrd.algorithm=weighted"};
  const Scenario w = load_ok(kThreeClients, options);
  EXPECT_EQ(w.nrd.params.at("hysteresis"), 0.3);
  EXPECT_TRUE(w.warnings.empty());
  // A parameter given on the command line is still checked strictly.
  options.overrides = {"nrd.algorithm=static", "nrd.params.hysteresis=0.1"};
  EXPECT_NE(load_error(kThreeClients, options).find("takes no parameters"), std::string::npos);
  // So is a file that names its own algorithm with parameters it does not take.
  EXPECT_NE(load_error(std::string(kMinimal) + "nrd: {algorithm: static, params: {hysteresis: 0.1}}\n")
                .find("takes no parameters"),
            std::string::npos);
}

TEST(ScenarioLoader, MergeKeysMergeWithExplicitKeysWinning) {
  const std::string text = R"(name: merge
duration: 10s
topology:
  nodes: [a, b]
  links:
    - &wan {name: l1, between: [a, b], rate: 10Mbps, delay: 20ms}
    - {<<: *wan, name: l2, delay: 5ms}
    - name: l3
      <<: [{rate: 1Mbps, loss: 0.1}, *wan]
stacks: [{name: s, node: a, kind: kernel, link: l1}]
policy: [{match: {}, use: [s]}]
workloads: [{name: w, kind: bulk, from: a, to: b, port: 5001, size: 1MB}]
)";
  const Scenario s = load_ok(text);
  ASSERT_EQ(s.links.size(), 3u);
  EXPECT_EQ(s.links[1].name, "l2");
  EXPECT_EQ(s.links[1].rate.value, 10e6);
  EXPECT_EQ(s.links[1].delay, 5ms);  // the map's own key wins
  EXPECT_EQ(s.links[2].rate.value, 1e6);  // the first merged map wins over the second
  EXPECT_EQ(s.links[2].loss, 0.1);
  EXPECT_EQ(s.links[2].delay, 20ms);
  // A quoted "<<" is an ordinary key, refused like any unknown key.
  const std::string quoted = std::string(kMinimal) + "nsocket: {\"<<\": {connect_timeout: 2s}}\n";
  EXPECT_NE(load_error(quoted).find("unknown key '<<'"), std::string::npos);
  // And `--set` edits the merged result.
  LoadOptions options;
  options.overrides = {"topology.links.l2.rate=2Mbps"};
  EXPECT_EQ(load_ok(text, options).links[1].rate.value, 2e6);
  EXPECT_EQ(load_ok(text, options).links[0].rate.value, 10e6);
}

TEST(ScenarioLoader, AnEmptyValueIsReportedOnItsOwnLine) {
  // Before: at the next line's key (yaml-cpp marks an empty value where the next token starts).
  EXPECT_EQ(load_error("name: x\nduration:\ntopology: {}\n"),
            "test.yaml:2:10: duration: expected a duration such as 250ms, got nothing (null)");
  EXPECT_EQ(load_error("name: x\nduration: ~\ntopology: {}\n"),
            "test.yaml:2:11: duration: expected a duration such as 250ms, got nothing (null)");
}

TEST(ScenarioLoader, EstimatorAndCircuitBreakerSettings) {
  const Scenario s = load_ok(std::string(kMinimal) +
                             "nrd: {estimates: {ewma_alpha: 0.5, failure_threshold: 3, retry_after: 2s, "
                             "expire_after: 0s}}\n"
                             "nsocket: {local_failure_threshold: 4, local_retry_after: 7s}\n");
  EXPECT_EQ(s.nrd.estimates.ewma_alpha, 0.5);
  EXPECT_EQ(s.nrd.estimates.failure_threshold, 3u);
  EXPECT_EQ(s.nrd.estimates.retry_after, 2s);
  EXPECT_EQ(s.nrd.estimates.expire_after, 0s);
  EXPECT_EQ(s.nsocket.local_failure_threshold, 4u);
  EXPECT_EQ(s.nsocket.local_retry_after, 7s);
  // Defaults are the core's.
  const Scenario d = load_ok(kMinimal);
  EXPECT_EQ(d.nrd.estimates.expire_after, EstimatorConfig{}.expire_after);
  EXPECT_EQ(d.nsocket.local_failure_threshold, NSocketConfig{}.local_failure_threshold);
}

TEST(ScenarioLoader, ALargeRunIsAnnouncedBeforeItStarts) {
  LoadOptions options;
  options.overrides = {"workloads.w.count=2000000"};  // 2 million back-to-back bulk sessions of 1 MB
  // 2e6 sessions and 1.4e9 packets: over the packet limit, refused.
  EXPECT_NE(load_error(kMinimal, options).find("is refused"), std::string::npos);
  options.overrides = {"workloads.w.count=2000000", "workloads.w.size=1KB"};  // 2e6 sessions, 1.4e6 packets
  const Scenario s = load_ok(kMinimal, options);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("about 2e+06 sessions"), std::string::npos) << s.warnings[0];
  EXPECT_TRUE(load_ok(kMinimal).warnings.empty());
}

TEST(ScenarioLoader, AStackOnTheRightLinkButNotInTheRuleIsStillUnreachable) {
  const std::string text = R"(name: r
duration: 10s
topology:
  nodes: [a, b]
  links: [{name: l1, between: [a, b]}, {name: l2, between: [a, b]}]
stacks: [{name: s1, node: b, kind: kernel, link: l1}, {name: s2, node: a, kind: kernel, link: l2}]
policy: [{match: {}, use: [s1]}]
workloads: [{name: w, kind: bulk, from: a, to: b, port: 5001, size: 1MB}]
)";
  EXPECT_NE(load_error(text).find("s1 (no instance on a)"), std::string::npos);
}

// ---- The bad-scenario corpus --------------------------------------------------------------------------------

TEST(ScenarioLoaderCorpus, EveryBadScenarioFailsWhereItSays) {
  test::expect_every_file_fails_where_it_says(DMM_BAD_SCENARIOS, 40,
                                              [](const std::string& path) { return load_file(path); });
}

TEST(ScenarioLoaderCorpus, ShippedScenariosLoad) {
  const auto files = test::yaml_files_in(std::filesystem::path(DMM_SOURCE_DIR) / "scenarios");
  ASSERT_FALSE(files.empty()) << "no scenarios/*.yaml found";
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    // Plug-in kinds need a registry to be checked; a fresh one per file, as a tool would use.
    StackRegistry registry;
    LoadOptions options;
    options.registry = &registry;
    auto r = load_file(path.string(), options);
    EXPECT_TRUE(r.ok()) << r.error().message;
  }
}

}  // namespace
}  // namespace dmm::scenario
