// A program that starts while dmm-nrd runs decides its first session with the daemon's current policy, and a
// program that lives only a moment still reports its session before it exits (issue 12, "Real hosts").
#include "nrd_system.hpp"

namespace dmm::test {
namespace {

class FreshProgram : public NrdSystemTest {
protected:
  // One session (100 kB echoed: enough for RTT and goodput) to the blue/red server, under dmm-run, then exit.
  Outcome one_session(const std::string& log) {
    return run(topo_->in_cli({dmm_run_bin(), "--config", host_config_, "--log", log, "--", session_loop_bin(),
                              kBlueServer, "7", "0", dir_->file("never"), "1", "100000"}));
  }
};

TEST_F(FreshProgram, DecidesItsFirstSessionWithTheDaemonsCurrentPolicy) {
  start_daemon(write_nrd_config("algorithm: static\nperiod: 200ms\n", std::nullopt));
  // The host config ranks blue first (version 1); the daemon now says red first (version 2).
  ASSERT_TRUE(exited_with(ctl({"push", dir_->write("red.json", R"({"rules": [{"use": ["red", "blue"]}]})")}), 0));
  const std::string log = dir_->file("fresh.jsonl");
  const Outcome o = one_session(log);
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_NE(o.out.find("stack=red ok=1"), std::string::npos) << o.out;
  const auto lines = read_json_lines(log);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["stack"], "red");
  EXPECT_EQ(lines[0]["policy_version"], 2);
}

TEST_F(FreshProgram, WithoutADaemonItStartsWithTheHostConfigsPolicy) {
  write_host_config();  // nrd.socket names a socket nobody listens on: the start-up wait ends at the failed connect
  const std::string log = dir_->file("alone.jsonl");
  const Outcome o = one_session(log);
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_NE(o.out.find("stack=blue ok=1"), std::string::npos) << o.out;
  const auto lines = read_json_lines(log);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["policy_version"], 1);
}

TEST_F(FreshProgram, AProgramThatExitsRightAfterItsSessionStillReportsIt) {
  start_daemon(write_nrd_config("algorithm: static\nperiod: 200ms\n", std::nullopt));  // no probes: only the shim
  ASSERT_TRUE(exited_with(one_session(dir_->file("short.jsonl")), 0));
  ASSERT_TRUE(eventually([&] {
    const auto s = status();
    return s && (*s)["counters"]["samples"].value("orchestrator", 0) >= 1;
  }, std::chrono::seconds(3)))
      << status().value_or(nlohmann::json{}).dump(2);
  const auto s = status();
  EXPECT_TRUE((*s)["stacks"][0]["rtt_ms"].is_number()) << s->dump(2);  // blue's RTT, from that one session
}

}  // namespace
}  // namespace dmm::test
