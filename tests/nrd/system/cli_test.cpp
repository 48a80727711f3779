// dmm-nrd and dmm-ctl as programs: --help, usage errors (2), bad input (2, with FILE:LINE:COL), runtime failures
// (3), a clean stop on SIGTERM (0). The daemon runs inside a test-made namespace.
#include <signal.h>
#include <sys/stat.h>

#include "nrd_system.hpp"

namespace dmm::test {
namespace {

class Cli : public ::testing::Test {
protected:
  void SetUp() override {
    ns_ = std::make_unique<LoopbackNamespace>("cli");
    dir_.write("dmm.yaml", "stacks: [{name: a, kind: kernel}, {name: b, kind: kernel}]\n"
                           "policy: [{match: {}, use: [a, b]}]\n"
                           "nrd: {socket: nrd.sock}\n");
    config_ = dir_.write("nrd.yaml", "host: dmm.yaml\nalgorithm: static\nstate: state.json\n");
  }
  std::vector<std::string> in_ns(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"ip", "netns", "exec", ns_->name()});
    return argv;
  }
  Child start_daemon(const std::string& config) {
    Child c = Child::spawn(in_ns({nrd_bin(), "--config", config}));
    EXPECT_TRUE(eventually([&] { return exited_with(ctl({"status"}), 0); }));
    return c;
  }
  Outcome ctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv{ctl_bin(), "--config", dir_.file("dmm.yaml")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(in_ns(argv), std::chrono::seconds(10));
  }
  std::unique_ptr<LoopbackNamespace> ns_;
  TempDir dir_;
  std::string config_;
};

TEST_F(Cli, HelpAndUsage) {
  const Outcome help = run({nrd_bin(), "--help"});
  ASSERT_TRUE(exited_with(help, 0));
  EXPECT_NE(help.out.find("Usage: dmm-nrd --config nrd.yaml"), std::string::npos);
  EXPECT_TRUE(exited_with(run({nrd_bin()}), 2));
  EXPECT_TRUE(exited_with(run({nrd_bin(), "--bogus"}), 2));
  const Outcome ctl_help = run({ctl_bin(), "--help"});
  ASSERT_TRUE(exited_with(ctl_help, 0));
  EXPECT_NE(ctl_help.out.find("push FILE"), std::string::npos);
  EXPECT_TRUE(exited_with(run({ctl_bin()}), 2));
  EXPECT_TRUE(exited_with(run({ctl_bin(), "reboot"}), 2));
  EXPECT_TRUE(exited_with(run({ctl_bin(), "push"}), 2));
  EXPECT_TRUE(exited_with(run({ctl_bin(), "status", "extra"}), 2));
  EXPECT_TRUE(exited_with(run({ctl_bin(), "--timeout", "0s", "status"}), 2));
}

TEST_F(Cli, BadConfigIsBadInputWithItsLocation) {
  const std::string bad = dir_.write("bad.yaml", "host: dmm.yaml\nperiod: fast\n");
  const Outcome o = run({nrd_bin(), "--config", bad});
  ASSERT_TRUE(exited_with(o, 2));
  EXPECT_EQ(o.err.rfind("dmm-nrd: " + bad + ":2:9: ", 0), 0u) << o.err;
  const Outcome check = run({nrd_bin(), "--config", config_, "--check"});
  ASSERT_TRUE(exited_with(check, 0));
  EXPECT_NE(check.out.find("config ok: 2 stacks"), std::string::npos) << check.out;
  const Outcome corrupt_state = [&] {
    dir_.write("state.json", "not json");
    Outcome r = run(in_ns({nrd_bin(), "--config", config_}));
    ::unlink(dir_.file("state.json").c_str());
    return r;
  }();
  EXPECT_TRUE(exited_with(corrupt_state, 2));
  EXPECT_NE(corrupt_state.err.find("state.json: not a saved policy"), std::string::npos) << corrupt_state.err;
}

TEST_F(Cli, RuntimeFailuresExitThree) {
  const Outcome nobody = ctl({"status"});
  ASSERT_TRUE(exited_with(nobody, 3));
  EXPECT_NE(nobody.err.find("cannot reach dmm-nrd at unix:" + dir_.file("nrd.sock")), std::string::npos) << nobody.err;
  Child daemon = start_daemon(config_);
  const Outcome second = run(in_ns({nrd_bin(), "--config", config_}));
  ASSERT_TRUE(exited_with(second, 3));
  EXPECT_NE(second.err.find("another daemon is listening there"), std::string::npos) << second.err;
  daemon.kill_group();
}

TEST_F(Cli, PushValidatesAndSigtermStopsCleanly) {
  Child daemon = start_daemon(config_);
  const Outcome not_policy = ctl({"push", dir_.write("p.json", "{\"rules\": 3}")});
  ASSERT_TRUE(exited_with(not_policy, 2));
  EXPECT_NE(not_policy.err.find("p.json: rules: expected a list of rules"), std::string::npos) << not_policy.err;
  const Outcome refused = ctl({"push", dir_.write("q.json", R"({"rules": [{"use": ["a", "zz"]}]})")});
  ASSERT_TRUE(exited_with(refused, 2));
  EXPECT_NE(refused.err.find("refused the policy: rule 0: unknown stack 'zz'"), std::string::npos) << refused.err;
  const Outcome bad_race = ctl({"push", dir_.write("s.json", R"({"rules": [{"use": ["b", "a"], "race": "eager"}]})")});
  ASSERT_TRUE(exited_with(bad_race, 2));
  EXPECT_NE(bad_race.err.find("rules[0].race: unknown race 'eager'"), std::string::npos) << bad_race.err;
  ASSERT_TRUE(exited_with(ctl({"push", dir_.write("r.json", R"({"rules": [{"use": ["b", "a"], "race": "failover",
                                                                  "attempt_delay": "300ms"}]})")}),
                          0));
  const Outcome policy = ctl({"policy"});
  ASSERT_TRUE(exited_with(policy, 0));
  EXPECT_NE(policy.out.find("\"version\":2"), std::string::npos) << policy.out;
  EXPECT_NE(policy.out.find("\"race\":\"failover\""), std::string::npos) << policy.out;
  EXPECT_NE(policy.out.find("\"attempt_delay\":\"300ms\""), std::string::npos) << policy.out;
  const Outcome table = ctl({"status"});
  ASSERT_TRUE(exited_with(table, 0));
  EXPECT_NE(table.out.find("policy version 2 (pushed by dmm-ctl"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("-> [b, a] race=failover attempt_delay=300ms"), std::string::npos) << table.out;
  const Outcome watch = ctl({"watch", "--count", "2"});
  ASSERT_TRUE(exited_with(watch, 0));
  EXPECT_NE(watch.out.find("version 2 | a rtt=-ms | b rtt=-ms"), std::string::npos) << watch.out;

  ::kill(daemon.pid(), SIGTERM);
  const Outcome stopped = daemon.wait(std::chrono::seconds(5));
  EXPECT_TRUE(exited_with(stopped, 0));
  EXPECT_NE(stopped.err.find("event=stopped signal=15"), std::string::npos) << stopped.err;
  struct stat st {};
  EXPECT_NE(::stat(dir_.file("nrd.sock").c_str(), &st), 0) << "the socket file was left behind";
}

TEST_F(Cli, ASocketPathGivenRelativeIsTheWorkingDirectorysLikeAnyToolsPath) {
  Child daemon = start_daemon(config_);
  const Outcome o = run(in_ns({"sh", "-c", "cd '" + dir_.path() + "' && exec " + ctl_bin() + " --socket nrd.sock status"}),
                        std::chrono::seconds(10));
  EXPECT_TRUE(exited_with(o, 0));
  EXPECT_NE(o.out.find("policy version 1"), std::string::npos) << o.out;
}

}  // namespace
}  // namespace dmm::test
