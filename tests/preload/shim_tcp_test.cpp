// (a) The shim with a C client under dmm-run in a client namespace that has no route of its own: TCP.
#include <nlohmann/json.hpp>

#include "echo_server.hpp"
#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

constexpr const char* kPort = "7000";

class ShimTcp : public PreloadTest {
protected:
  void SetUp() override {
    PreloadTest::SetUp();
    server_ = std::make_unique<EchoServer>(topo_->srv(), std::vector<std::string>{kBlueServer, kBlueServer6, kRedServer},
                                           7000);
  }
  void TearDown() override { server_.reset(); }
  std::unique_ptr<EchoServer> server_;
};

TEST_F(ShimTcp, BlockingConnectReachesTheServerOnlyBlueCanReach) {
  const Outcome plain = run_plain(probe({"tcp", kBlueServer, kPort, "block"}));
  EXPECT_TRUE(exited_with(plain, 3));
  EXPECT_EQ(facts(plain.out)["error"], "connect:ENETUNREACH");

  const Outcome o = run_dmm(default_config(), probe({"tcp", kBlueServer, kPort, "block"}));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["stack"], "blue");
  EXPECT_EQ(server_->peers(), (std::set<std::string>{kBlueClient}));
  EXPECT_EQ(o.err, "");  // nothing on the program's stderr

  // One JSON line per decision, with what decided it.
  const auto lines = json_lines(read_text(log_));
  ASSERT_EQ(lines.size(), 1u) << read_text(log_);
  const auto& d = lines[0];
  EXPECT_EQ(d["event"], "connect");
  EXPECT_EQ(d["dst"], std::string(kBlueServer) + ":" + kPort);
  EXPECT_EQ(d["proto"], "tcp");
  EXPECT_EQ(d["intent"], "default");
  EXPECT_EQ(d["stack"], "blue");
  EXPECT_EQ(d["rule"], 0);
  EXPECT_EQ(d["policy_version"], 1);
  EXPECT_TRUE(d["time"].is_number() && d["pid"].is_number() && d["fd"].is_number());
}

TEST_F(ShimTcp, NonBlockingConnectsOnTwoInstancesUnderOneEpoll) {
  const Outcome o = run_dmm(default_config(), probe({"epoll2", kBlueServer, kPort, kRedServer, kPort}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("stack1"), "blue");
  EXPECT_EQ(f.at("stack2"), "red");
  EXPECT_EQ(server_->peers(), (std::set<std::string>{kBlueClient, kRedClient}));
}

TEST_F(ShimTcp, OptionsAndFlagsSetBeforeConnectAreInForceAfterIt) {
  const Outcome o = run_dmm(default_config(), probe({"options", kBlueServer, kPort}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("stack"), "blue");          // so the socket was re-created in blue's namespace ...
  EXPECT_EQ(f.at("rcvbuf"), "131072");       // ... and still has SO_RCVBUF (doubled by the kernel),
  EXPECT_EQ(f.at("nodelay"), "1");           // TCP_NODELAY,
  EXPECT_EQ(f.at("keepalive"), "1");         // SO_KEEPALIVE,
  EXPECT_EQ(f.at("nonblock"), "1");          // O_NONBLOCK from fcntl,
  EXPECT_EQ(f.at("eagain"), "1");            // which really is in force,
  EXPECT_EQ(f.at("cloexec"), "1");           // and SOCK_CLOEXEC.
}

TEST_F(ShimTcp, DupsFollowThePlacementAndDup2ReplacesADmmSocket) {
  const Outcome o = run_dmm(default_config(), probe({"dup", kBlueServer, kPort, kRedServer, kPort}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("dup_stack"), "blue");     // dup() of the placeholder, made before connect
  EXPECT_EQ(f.at("dupfd_stack"), "blue");   // fcntl(F_DUPFD_CLOEXEC) likewise
  EXPECT_EQ(f.at("dupfd_cloexec"), "1");    // keeping its own close-on-exec flag
  EXPECT_EQ(f.at("dup2_stack"), "red");     // dup2 of a red socket onto the blue one
}

TEST_F(ShimTcp, ForkAfterConnectBothProcessesUseTheFdAndTheChildDecidesAnew) {
  const Outcome o = run_dmm(default_config(), probe({"fork", kBlueServer, kPort}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("parent_stack"), "blue");
  EXPECT_EQ(f.at("child_stack"), "blue");
}

TEST_F(ShimTcp, Ipv6DestinationThroughBlue) {
  const Outcome o = run_dmm(default_config(), probe({"tcp", kBlueServer6, kPort, "nonblock"}));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["stack"], "blue");
  EXPECT_EQ(server_->peers(), (std::set<std::string>{"fd00:232:1::2"}));
}

TEST_F(ShimTcp, IntentSelectsTheRuleAndTheServerSeesTheOtherInstance) {
  // Both instances reach both server addresses; the intent alone picks red for blue's server address.
  const std::string config = write_config("  - {match: {intent: latency}, use: [red]}\n"
                                          "  - {match: {}, use: [blue]}\n");
  const Outcome latency = run_dmm(config, probe({"intent", kBlueServer, kPort, "latency"}));
  ASSERT_TRUE(exited_with(latency, 0));
  EXPECT_EQ(facts(latency.out)["stack"], "red");
  EXPECT_EQ(facts(latency.out)["late_intent"], "EISCONN");
  EXPECT_EQ(server_->peers(), (std::set<std::string>{kRedClient}));

  const Outcome bulk = run_dmm(config, probe({"intent", kBlueServer, kPort, "bulk"}));
  ASSERT_TRUE(exited_with(bulk, 0));
  EXPECT_EQ(facts(bulk.out)["stack"], "blue");

  // dmm-run --intent sets the default for every socket of the program.
  const Outcome by_flag = run_dmm(config, probe({"tcp", kBlueServer, kPort}), {"--intent", "latency"});
  ASSERT_TRUE(exited_with(by_flag, 0));
  EXPECT_EQ(facts(by_flag.out)["stack"], "red");
}

TEST_F(ShimTcp, FallsBackToTheNextRankedStackWhenTheFirstHasNoRoute) {
  const std::string config = write_config("  - {match: {}, use: [dead, blue]}\n");
  const Outcome o = run_dmm(config, probe({"tcp", kBlueServer, kPort}));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["stack"], "blue");
  const auto lines = json_lines(read_text(log_));
  ASSERT_EQ(lines.size(), 2u) << read_text(log_);
  EXPECT_EQ(lines[0]["stack"], "dead");
  EXPECT_EQ(lines[1]["stack"], "blue");
  EXPECT_EQ(lines[1]["fallback_from"], "dead");
  // And one line on stderr that names the session, the stack that failed, why, and where it went instead.
  EXPECT_EQ(o.err, std::string("dmm-preload: connect fd ") + lines[0]["fd"].dump() + " to " + kBlueServer + ":" +
                       kPort + "/tcp: stack 'dead' failed (Network is unreachable); carried by 'blue' instead\n");
}

TEST_F(ShimTcp, ASessionNoStackCanTakeFailsWithNetworkUnreachableAndSaysSo) {
  // Every ranked stack refuses (dead has no route; gone is unusable from the start: its namespace does not exist): the
  // call fails with ENETUNREACH — not EAFNOSUPPORT, which would send people looking for IPv4/IPv6 problems —
  // and stderr says which stacks failed. Warnings are rate-limited: 30 failed sessions give at most 10 lines
  // plus the start-up warning.
  const std::string config = dir_->write("gone.yaml", "stacks:\n"
                                         "  - {name: dead, kind: kernel, netns: " + topo_->dead() + "}\n"
                                         "  - {name: gone, kind: kernel, netns: dmmp-gone-" + std::to_string(::getpid()) + "}\n"
                                         "policy:\n  - {match: {}, use: [gone, dead]}\n");
  const Outcome o = run_plain({"env", "LD_PRELOAD=" + preload_library(), "DMM_CONFIG=" + config, probe_bin(),
                               "attempts", kBlueServer, kPort, "30"});
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["failures"], "30");
  EXPECT_EQ(facts(o.out)["last_error"], "ENETUNREACH");
  EXPECT_NE(o.err.find("stack 'dead' failed (Network is unreachable); no stack left, connect fails with ENETUNREACH"),
            std::string::npos)
      << o.err;
  EXPECT_EQ(occurrences(o.err, "no stack left"), 10) << o.err;  // the burst; the rest held back for 10 s
  EXPECT_EQ(occurrences(o.err, "\n"), 11) << o.err;             // and the one start-up warning (gone's namespace)
}

TEST_F(ShimTcp, ListenerPlacedByPortRuleAcceptsInItsNamespace) {
  const std::string config = write_config("  - {match: {port: 7100}, use: [blue]}\n"
                                          "  - {match: {}, use: [host]}\n");
  Child server = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config, "--", probe_bin(), "listen", "7100"}));
  const auto ready = server.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(ready.has_value()) << server.wait(std::chrono::seconds(1)).err;
  EXPECT_EQ(facts(*ready)["stack"], "blue");
  // A client in the server namespace reaches the listener at blue's address: it lives in blue's namespace.
  const Outcome client = run(topo_->in(topo_->srv(), probe({"tcp", kBlueClient, "7100"})));
  EXPECT_TRUE(exited_with(client, 0));
  const Outcome listener = server.wait(std::chrono::seconds(10));
  ASSERT_TRUE(exited_with(listener, 0));
  EXPECT_EQ(facts(listener.out)["accepted_stack"], "blue");
}

TEST_F(ShimTcp, AProgramThatTakesOverSmallFdNumbersDoesNotBreakLaterDecisions) {
  // The shim's namespace files sit at high numbers: dup2 over 3..63 leaves them alone.
  for (const char* predict : {"on", "off"}) {
    const Outcome o = run_dmm(default_config(), {"env", std::string("DMM_PREDICT=") + predict, probe_bin(),
                                                 "clobber-low", kBlueServer, kPort});
    ASSERT_TRUE(exited_with(o, 0)) << predict;
    EXPECT_EQ(facts(o.out)["stack1"], "blue");
    EXPECT_EQ(facts(o.out)["stack2"], "blue");
  }
}

TEST_F(ShimTcp, ThreadsAndForksAtOnceNeverDeadlock) {
#ifdef DMM_PRELOAD_SANITIZED
  // GCC 12's ASan allocator is not fork-safe: a child forked while another thread holds its allocator lock hangs
  // in the first malloc (the shim's first decision in the child allocates). glibc's malloc is fork-safe, so this
  // is only true of the sanitizer build.
  GTEST_SKIP() << "ASan's allocator (GCC 12) deadlocks in children forked from multi-threaded processes";
#endif
  const Outcome o = run_dmm(default_config(), probe({"threads", kBlueServer, kPort}));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["threads"], "ok");
}

}  // namespace
}  // namespace dmm::test
