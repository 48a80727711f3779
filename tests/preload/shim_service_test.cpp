// Where a program's sockets of kernel instances in other namespaces come from (socket_sources.hpp): dmm-stackd
// when the host config names it — for a process that dropped root the only way in, for root the cheaper one
// (pooled) — and setns when there is none or it does not answer and the process may.
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "echo_server.hpp"
#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

constexpr const char* kPort = "7000";

class ShimService : public PreloadTest {
protected:
  void SetUp() override {
    PreloadTest::SetUp();
    server_ = std::make_unique<EchoServer>(topo_->srv(), std::vector<std::string>{kBlueServer}, 7000);
    ::chmod(dir_->path().c_str(), 0711);  // nobody reads the config and reaches the service's socket in here
    dir_->write("decisions.jsonl", "");   // ... and appends to the decision log
    ::chmod(log_.c_str(), 0666);
    config_ = dir_->write("service.yaml", "stacks:\n"
                          "  - {name: host, kind: kernel}\n"
                          "  - {name: blue, kind: kernel, netns: " + topo_->blue() + ", allow: {users: [nobody]}}\n"
                          "policy:\n  - {match: {dst: 10.232.1.0/24}, use: [blue]}\n  - {match: {}, use: [host]}\n"
                          "service: {socket: " + dir_->file("stackd.sock") + "}\n"
                          "log: {level: debug}\n");  // dmm-stackd says what it granted
  }
  void TearDown() override { server_.reset(); }

  std::unique_ptr<Child> start_stackd() {
    auto daemon = std::make_unique<Child>(Child::spawn(topo_->in_cli({stackd_bin(), "--config", config_})));
    for (int i = 0; i < 500 && !std::filesystem::exists(dir_->file("stackd.sock")); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(std::filesystem::exists(dir_->file("stackd.sock")));
    return daemon;
  }

  // `count` connections to blue's server, one after the other.
  std::vector<std::string> sequence(int count) {
    std::vector<std::string> argv = probe({"sequence"});
    for (int i = 0; i < count; ++i) argv.insert(argv.end(), {kBlueServer, kPort});
    return argv;
  }

  // Sockets dmm-stackd handed out, from its debug log.
  static int granted(const std::string& log) {
    int sockets = 0;
    for (auto at = log.find("event=sockets_granted"); at != std::string::npos;
         at = log.find("event=sockets_granted", at + 1)) {
      const auto count = log.find("count=", at);
      if (count != std::string::npos) sockets += std::atoi(log.c_str() + count + 6);
    }
    return sockets;
  }

  std::string config_;
  std::unique_ptr<EchoServer> server_;
};

TEST_F(ShimService, AnUnprivilegedProgramGetsItsSocketsFromDmmStackdInBatches) {
  auto stackd = start_stackd();
  // setpriv first, then dmm-run: the whole program runs as nobody.
  std::vector<std::string> argv{"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", dmm_run_bin(),
                                "--config", config_, "--log", log_, "--"};
  for (const std::string& a : sequence(20)) argv.push_back(a);
  const Outcome seq = run(topo_->in_cli(argv));
  ASSERT_TRUE(exited_with(seq, 0));
  for (int i = 1; i <= 20; ++i) EXPECT_EQ(facts(seq.out)["stack" + std::to_string(i)], "blue") << i;
  EXPECT_EQ(server_->peers(), (std::set<std::string>{kBlueClient}));
  stackd->kill_group();
  const std::string log = stackd->wait(std::chrono::seconds(5)).err;
  EXPECT_NE(log.find("uid=65534"), std::string::npos) << log;
  // 20 sessions, fewer requests: after the first decisions the shim's pool fetches them in batches.
  EXPECT_GE(granted(log), 20) << log;
  EXPECT_LT(occurrences(log, "event=sockets_granted"), 20) << log;
}

TEST_F(ShimService, ARootProgramAlsoTakesItsSocketsFromDmmStackdWhenThereIsOne) {
  auto stackd = start_stackd();
  const Outcome o = run_dmm(config_, sequence(10));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["stack10"], "blue");
  EXPECT_EQ(o.err, "");
  stackd->kill_group();
  const std::string log = stackd->wait(std::chrono::seconds(5)).err;
  EXPECT_NE(log.find("uid=0"), std::string::npos) << log;
  EXPECT_GE(granted(log), 10) << log;
}

TEST_F(ShimService, ARootProgramWhoseServiceDoesNotAnswerMakesItsOwnAfterOneWarning) {
  const Outcome o = run_dmm(config_, sequence(5));  // no dmm-stackd running
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["stack5"], "blue");
  EXPECT_EQ(occurrences(o.err, "\n"), 1) << o.err;
  EXPECT_NE(o.err.find("is dmm-stackd running?"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("this process makes its sockets of other namespaces itself (setns)"), std::string::npos)
      << o.err;
}

TEST_F(ShimService, AUidTheStackDoesNotAllowIsRefusedWithEaccesAndSaysWhy) {
  auto stackd = start_stackd();
  std::vector<std::string> argv{"setpriv", "--reuid=1234", "--regid=1234", "--clear-groups", "--", dmm_run_bin(),
                                "--config", config_, "--log", log_, "--", probe_bin(), "attempts", kBlueServer, kPort,
                                "3"};
  const Outcome o = run(topo_->in_cli(argv));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["failures"], "3");
  EXPECT_EQ(facts(o.out)["last_error"], "EACCES") << o.out;  // this uid may not use blue
  EXPECT_NE(o.err.find("uid 1234"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("allow"), std::string::npos) << o.err;
}

TEST_F(ShimService, AProgramThatDropsRootInProcessGetsSocketsMadeForItsNewUid) {
  // haproxy-style: connections as root first (dmm-stackd's connection admitted root, the pool parked root-owned
  // sockets), then setuid(nobody) in the same process. The sockets after that must be nobody's, made through a
  // connection dmm-stackd admitted for nobody.
  auto stackd = start_stackd();
  const Outcome o = run_dmm(config_, probe({"drop-privileges", kBlueServer, kPort}));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["owner_before"], "0");
  EXPECT_EQ(facts(o.out)["owner_after"], "65534");
  stackd->kill_group();
  const std::string log = stackd->wait(std::chrono::seconds(5)).err;
  EXPECT_NE(log.find("uid=65534"), std::string::npos) << log;  // a second connection, as nobody
}

}  // namespace
}  // namespace dmm::test
