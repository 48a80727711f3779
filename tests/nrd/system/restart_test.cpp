// dmm-nrd killed with SIGKILL while a program under dmm-run keeps opening sessions: no session fails, each keeps
// being decided by the last policy; restarted, the daemon reads its state back, the shim resubscribes by itself,
// and versions continue upward.
#include "nrd_system.hpp"

namespace dmm::test {
namespace {

std::size_t sessions_with(const std::vector<nlohmann::json>& decisions, std::uint64_t version, const std::string& stack) {
  std::size_t n = 0;
  for (const auto& d : decisions) n += d["policy_version"] == version && d["stack"] == stack;
  return n;
}

TEST_F(NrdSystemTest, SigkillKeepsProgramsOnTheLastPolicyAndARestartResumesVersions) {
  const std::string config = write_nrd_config("algorithm: static\nperiod: 200ms\n", std::nullopt);
  start_daemon(config);
  start_sessions(20);
  ASSERT_TRUE(wait_for_subscribers(1));
  const std::string red_first = dir_->write("red-first.json", R"({"rules": [{"match": {}, "use": ["red", "blue"]}]})");
  const Outcome pushed = ctl({"push", red_first});
  ASSERT_TRUE(exited_with(pushed, 0));
  EXPECT_EQ(pushed.out, "published as version 2\n");
  ASSERT_TRUE(eventually([&] { return sessions_with(decisions(), 2, "red") >= 3; }));

  kill_daemon();
  const std::size_t at_kill = decided_sessions();
  // Half a second of sessions without a daemon.
  ASSERT_TRUE(eventually([&] { return decided_sessions() >= at_kill + 25; }));
  const auto during = decisions();
  for (std::size_t i = at_kill; i < during.size(); ++i) {
    EXPECT_EQ(during[i]["policy_version"], 2) << during[i].dump();
    EXPECT_EQ(during[i]["stack"], "red") << during[i].dump();
  }

  start_daemon(config);
  const auto after_restart = status();
  ASSERT_TRUE(after_restart);
  EXPECT_EQ((*after_restart)["policy"]["version"], 2) << "the state file was not read back";
  ASSERT_TRUE(wait_for_subscribers(1)) << "the shim did not resubscribe";
  const std::string blue_first = dir_->write("blue-first.json", R"({"rules": [{"use": ["blue", "red"]}]})");
  const Outcome pushed_again = ctl({"push", blue_first});
  ASSERT_TRUE(exited_with(pushed_again, 0));
  EXPECT_EQ(pushed_again.out, "published as version 3\n");
  ASSERT_TRUE(eventually([&] { return sessions_with(decisions(), 3, "blue") >= 3; }));
  // The shim tells the daemon what it holds (heartbeats).
  EXPECT_TRUE(eventually([&] {
    const auto s = status();
    if (!s) return false;
    for (const auto& p : (*s)["peers"])
      if (p.value("role", "") == "orchestrator" && p["version"] == 3) return true;
    return false;
  }));

  const Outcome program = stop_sessions();
  EXPECT_TRUE(exited_with(program, 0));  // 0 failed set-ups, across the kill and the restart
  EXPECT_NE(program.out.find(" failed=0\n"), std::string::npos) << program.out;
  // Versions only ever went up, in the order the program decided its sessions.
  std::uint64_t last = 0;
  for (const auto& d : decisions()) {
    const auto v = d["policy_version"].get<std::uint64_t>();
    EXPECT_GE(v, last) << d.dump();
    last = v;
  }
  EXPECT_EQ(last, 3u);
  stop_daemon();
}

}  // namespace
}  // namespace dmm::test
