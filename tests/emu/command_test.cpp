// The parts of dmm-emu's `kind: command` workloads that can be checked on their own: the program's processes
// (exit status, stop, the whole group going with them), the nRD the programs' shims talk to (policies out,
// samples in, strangers dropped), and the plan's program namespaces and limits. End to end: tests/emu/test_emu.py.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "child_process.hpp"
#include "dmm/nrd/nrd_client.hpp"
#include "dmm/policy_algorithm.hpp"
#include "emu_plan.hpp"
#include "netns_lab.hpp"
#include "nrd_socket_front.hpp"
#include "scenario/scenario.hpp"

namespace dmm::emu {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<kernel::EpollExecutor> make_loop() {
  auto loop = kernel::EpollExecutor::create();
  EXPECT_TRUE(loop.ok());
  return std::move(loop).value();
}

std::filesystem::path scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("dmm-emu-command-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir / name;
}

// ---- ChildProcess ---------------------------------------------------------------------------------------------

struct Ended {
  std::optional<ExitStatus> status;
};

std::unique_ptr<ChildProcess> spawn(kernel::EpollExecutor& loop, const std::string& ns, const std::string& line,
                                    Ended& ended) {
  auto child = ChildProcess::spawn(loop, ns, {"/bin/sh", "-c", line}, "/", scratch("out").string(),
                                   scratch("err").string(), [&ended](ExitStatus s) { ended.status = s; });
  EXPECT_TRUE(child.ok()) << child.error().message;
  return child.ok() ? std::move(child).value() : nullptr;
}

// Dead: no such process, or a zombie waiting for whoever inherited it to reap it.
bool gone(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_text, name, state;
    if (!(stat >> pid_text >> name >> state) || state == "Z") return true;
    ::usleep(10000);
  }
  return false;
}

// A namespace for the program and a loop to hear of it (root: namespaces).
class EmuChildProcess : public ::testing::Test {
protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    auto made = lab_.add_namespace();
    ASSERT_TRUE(made.ok()) << made.error().message;
    ns_ = *made;
    loop_ = make_loop();
  }
  std::unique_ptr<ChildProcess> start(const std::string& line) { return spawn(*loop_, ns_, line, ended_); }
  bool wait_for_end() {
    loop_->run_until([&] { return ended_.status.has_value(); }, 10s);
    return ended_.status.has_value();
  }

  test::NetnsLab lab_;
  std::string ns_;
  std::unique_ptr<kernel::EpollExecutor> loop_;
  Ended ended_;
};

TEST_F(EmuChildProcess, ItsExitStatusArrivesOnTheLoop) {
  auto child = start("exit 3");
  ASSERT_TRUE(child);
  ASSERT_TRUE(wait_for_end());
  EXPECT_FALSE(ended_.status->success());
  EXPECT_EQ(ended_.status->to_string(), "exit status 3");
  EXPECT_FALSE(child->running());
}

TEST_F(EmuChildProcess, StopAsksThenKillsAndTakesItsWholeGroup) {
  // A program that ignores SIGTERM and has a child of its own that writes its pid down.
  const auto pid_file = scratch("grandchild.pid");
  std::filesystem::remove(pid_file);
  auto child = start("trap '' TERM; sleep 300 & echo $! > " + pid_file.string() + "; wait");
  ASSERT_TRUE(child);
  for (int i = 0; i < 500 && !(std::filesystem::exists(pid_file) && std::filesystem::file_size(pid_file) > 0); ++i)
    loop_->run_until([] { return false; }, 20ms);
  pid_t grandchild = 0;
  std::ifstream(pid_file) >> grandchild;
  ASSERT_GT(grandchild, 0);
  child->stop(300ms);
  ASSERT_TRUE(wait_for_end());
  EXPECT_EQ(ended_.status->to_string(), "killed by signal 9 (SIGKILL)");  // SIGTERM was ignored: the grace ran out
  EXPECT_TRUE(gone(grandchild)) << "the group's other process outlived it";
}

TEST_F(EmuChildProcess, DestroyingItKillsWhatStillRuns) {
  auto child = start("exec sleep 300");
  ASSERT_TRUE(child);
  const pid_t pid = child->pid();
  child.reset();
  EXPECT_TRUE(gone(pid));
  EXPECT_FALSE(ended_.status) << "no callback from a destroyed process";
}

// ---- NrdSocketFront -----------------------------------------------------------------------------------------

Policy ranked(PolicyVersion version, std::vector<StackId> use) {
  Policy p;
  p.version = version;
  p.rules.push_back(Rule{{}, std::move(use)});
  return p;
}

TEST(EmuNrdSocketFront, AProgramsShimGetsEveryPolicyAndItsSamplesReachTheRunsNrd) {
  auto loop = make_loop();
  const std::string path = scratch("nrd.sock").string();
  std::filesystem::remove(path);
  const std::vector<StackId> stacks{"fast", "slow"};
  auto front = NrdSocketFront::create(path, *loop, *loop, stacks, ranked(1, {"fast", "slow"}));
  ASSERT_TRUE(front.ok()) << front.error().message;
  auto algorithm = AlgorithmRegistry::with_builtins().create("static", {});
  ASSERT_TRUE(algorithm.ok());
  Nrd nrd(*loop, stacks, std::move(algorithm).value(), NrdConfig{}, (*front)->channel(), ranked(1, {"fast", "slow"}));
  nrd.start();
  (*front)->feed(&nrd);

  Orchestrator orchestrator(stacks, ranked(1, {"fast", "slow"}));
  nrd::NrdClientConfig config;
  config.address = nrd::NrdAddress::unix_socket(path);
  config.name = "test-program";
  nrd::NrdClient client(*loop, config, &orchestrator);
  client.start();
  loop->run_until([&] { return client.welcomed(); }, 5s);
  ASSERT_TRUE(client.welcomed());

  (*front)->channel().publish(std::make_shared<const Policy>(ranked(2, {"slow", "fast"})));
  loop->run_until([&] { return orchestrator.version() == 2; }, 5s);
  EXPECT_EQ(orchestrator.version(), 2u);

  PathSample sample;
  sample.stack = "slow";
  sample.rtt = 42ms;
  client.on_sample(sample);
  sample.stack = "not-a-stack-of-the-run";
  client.on_sample(sample);
  loop->run_until([&] { return (*front)->samples_received() > 0; }, 5s);
  EXPECT_EQ((*front)->samples_received(), 1u);
  EXPECT_TRUE(nrd.estimates().at(1).has_rtt);
  EXPECT_EQ((*front)->subscribers_seen(), 1u);
  client.stop();
}

TEST(EmuNrdSocketFront, BytesThatAreNotTheProtocolEndTheirConnection) {
  auto loop = make_loop();
  const std::string path = scratch("nrd-bad.sock").string();
  std::filesystem::remove(path);
  auto front = NrdSocketFront::create(path, *loop, *loop, {"fast"}, ranked(1, {"fast"}));
  ASSERT_TRUE(front.ok()) << front.error().message;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const char garbage[] = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_GT(::write(fd, garbage, sizeof garbage - 1), 0);
  loop->run_until([&] { return (*front)->peers_rejected() > 0; }, 5s);
  EXPECT_EQ((*front)->peers_rejected(), 1u);
  ::close(fd);
  front->reset();
  EXPECT_FALSE(std::filesystem::exists(path)) << "the socket file outlived the run";
}

// ---- The plan ---------------------------------------------------------------------------------------------

scenario::Scenario load(const std::string& stacks, const std::string& workloads) {
  const std::string text = "name: p\nduration: 10s\ntopology:\n  nodes: [a, b, c]\n  links:\n"
                           "    - {name: l1, between: [a, b]}\n    - {name: l2, between: [a, b]}\n"
                           "    - {name: l3, between: [c, b]}\nstacks:\n" +
                           stacks + "policy: [{match: {}, use: [s1]}]\nworkloads:\n" + workloads;
  auto sc = scenario::load_text(text, "p.yaml");
  EXPECT_TRUE(sc.ok()) << sc.error().message;
  return sc.ok() ? std::move(sc).value() : scenario::Scenario{};
}

TEST(EmuPlanCommands, ANodeWithProgramsGetsAProgramNamespaceWithNoWayOut) {
  const auto sc = load("  - {name: s1, node: a, kind: kernel, link: l1}\n  - {name: s2, node: a, kind: kernel, link: l2}\n",
                       "  - {name: w, kind: command, from: a, to: b, run: 'true'}\n");
  auto plan = plan_emulation(sc, "dmmeX-");
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_TRUE(plan->program_namespaces.at(0));
  EXPECT_EQ(*plan->program_namespaces.at(0), "dmmeX-p0");
  EXPECT_FALSE(plan->program_namespaces.at(1));
  const auto ns = std::find_if(plan->namespaces.begin(), plan->namespaces.end(),
                               [](const NamespacePlan& n) { return n.name == "dmmeX-p0"; });
  ASSERT_NE(ns, plan->namespaces.end());
  EXPECT_TRUE(ns->routes.empty());
  EXPECT_FALSE(ns->identity);
}

TEST(EmuPlanCommands, ProgramsCannotReachAUserSpaceInstanceYet) {
  const auto sc = load("  - {name: s1, node: a, kind: kernel, link: l1}\n  - {name: s2, node: a, kind: lwip-dpdk, link: l2}\n",
                       "  - {name: w, kind: command, from: a, to: b, run: 'true'}\n");
  auto plan = plan_emulation(sc, "dmmeX-");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find(": workload 'w': a command's program reaches only kernel stacks, and 'a' has "
                                      "lwip-dpdk stack 's2'"),
            std::string::npos)
      << plan.error().message;
  EXPECT_EQ(plan.error().message.rfind("p.yaml:", 0), 0u) << plan.error().message;
}

TEST(EmuPlanCommands, ProgramsNeedEveryStackThePolicyNamesOnTheirNode) {
  const auto sc = load("  - {name: s1, node: a, kind: kernel, link: l1}\n  - {name: s3, node: c, kind: kernel, link: l3}\n",
                       "  - {name: w, kind: command, from: a, to: b, run: 'true'}\n");
  auto plan = plan_emulation(sc, "dmmeX-");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("stack 's3' is on node 'c', not on 'a'"), std::string::npos)
      << plan.error().message;
}

}  // namespace
}  // namespace dmm::emu

namespace dmm::emu {
namespace {

TEST(EmuPlan, AServerNodesOwnFlowsLeaveFromItsIdentityAddress) {
  // A UDP server that connect()s to its client (iperf3's) must answer from the address the client sent to.
  const auto sc = load("  - {name: s1, node: a, kind: kernel, link: l1}\n",
                       "  - {name: w, kind: bulk, from: a, to: b, port: 80, size: 1MB}\n");
  auto plan = plan_emulation(sc, "dmmeX-");
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  const auto& b = *std::find_if(plan->namespaces.begin(), plan->namespaces.end(),
                                [&](const NamespacePlan& n) { return n.name == *plan->node_namespaces.at(1); });
  ASSERT_FALSE(b.routes.empty());
  for (const auto& route : b.routes) EXPECT_EQ(route.source, scenario::node_address(1).to_string()) << route.prefix;
}

}  // namespace
}  // namespace dmm::emu

namespace dmm::emu {
namespace {

TEST(EmuPlan, APlugInKindHasNoNamespaceLinkOrFailureOfItsOwn) {
  const std::string stacks = "  - {name: s1, node: a, kind: kernel, link: l1}\n  - {name: r, node: a, kind: relay, over: s1}\n";
  const std::string workloads = "  - {name: w, kind: bulk, from: a, to: b, port: 80, size: 1MB}\n";
  StackRegistry registry;
  ASSERT_TRUE(registry.add({"relay", {"over"}, [](const StackConfig&, StackWorld&) -> Result<std::unique_ptr<Stack>> {
                              return make_error(ENOSYS, "not made here");
                            }}).ok());
  auto with = [&](const std::string& extra) {
    const std::string text = "name: p\nduration: 10s\ntopology:\n  nodes: [a, b]\n  links:\n"
                             "    - {name: l1, between: [a, b]}\nstacks:\n" + stacks +
                             "policy: [{match: {}, use: [r, s1]}]\nworkloads:\n" + workloads + extra;
    scenario::LoadOptions options;
    options.registry = &registry;
    auto sc = scenario::load_text(text, "p.yaml", options);
    EXPECT_TRUE(sc.ok()) << sc.error().message;
    return sc.ok() ? plan_emulation(*sc, "dmmeX-") : Result<EmuPlan>(sc.error());
  };
  auto plan = with("");
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_TRUE(plan->stacks.at(1).namespace_name.empty());
  EXPECT_EQ(plan->stacks.at(1).stack, 1u);
  auto failing = with("events: [{at: 1s, stack: r, fail: true}]\n");
  ASSERT_FALSE(failing.ok());
  EXPECT_NE(failing.error().message.find("plug-in kinds cannot fail on cue"), std::string::npos)
      << failing.error().message;
}

TEST(EmuPlan, SimulationOnlyStackSettingsAreNotedAsIgnored) {
  // Linux fixes TIME_WAIT at 60 s and has no per-packet cost knob: the run says so instead of pretending.
  const auto sc = load("  - {name: s1, node: a, kind: kernel, link: l1, time_wait: 5s, processing_delay: 1ms}\n",
                       "  - {name: w, kind: bulk, from: a, to: b, port: 80, size: 1MB}\n");
  auto plan = plan_emulation(sc, "dmmeX-");
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  const auto noted = [&](const std::string& text) {
    return std::any_of(plan->notes.begin(), plan->notes.end(),
                       [&](const std::string& n) { return n.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(noted("stack 's1': time_wait is a simulation setting; a real stack keeps its own (Linux 60 s, lwIP "
                    "120 s; ignored)"));
  EXPECT_TRUE(noted("stack 's1': processing_delay has no meaning on a real stack (ignored)"));
  const auto plain = load("  - {name: s1, node: a, kind: kernel, link: l1}\n",
                          "  - {name: w, kind: bulk, from: a, to: b, port: 80, size: 1MB}\n");
  EXPECT_TRUE(plan_emulation(plain, "dmmeX-")->notes.empty());
}

}  // namespace
}  // namespace dmm::emu
