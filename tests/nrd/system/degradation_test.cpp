// A real degradation on one of two veth paths: nRD's probes see it, and new sessions of a program under dmm-run
// move to the other kernel instance within two nRD periods. Asserted from the logs: nRD's per-period record
// (which period published the switch, counted from the cut) and the shim's decision log (which policy version
// decided each session, and on which stack), plus the program's own per-session lines for propagation.
#include <time.h>

#include <iostream>

#include "nrd_system.hpp"

namespace dmm::test {
namespace {

double monotonic_now() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

void must_run(const std::vector<std::string>& argv) {
  const Outcome o = run(argv, std::chrono::seconds(10));
  ASSERT_TRUE(exited_with(o, 0)) << join(argv);
}

struct Switch {
  std::uint64_t version = 0;
  double published_at = 0;   // monotonic seconds
  std::size_t periods_after_cut = 0;  // 1: the first period that ended after the cut published it
};

// The first period after `cut` whose record line publishes a policy for which `moved` holds.
std::optional<Switch> find_switch(const std::vector<nlohmann::json>& record, double cut,
                                  const std::function<bool(const nlohmann::json& policy)>& moved) {
  std::size_t n = 0;
  for (const auto& line : record) {
    if (line["monotonic_s"].get<double>() <= cut) continue;
    ++n;
    if (line["published"] == true && moved(line["policy"]))
      return Switch{line["version"].get<std::uint64_t>(), line["monotonic_s"].get<double>(), n};
  }
  return std::nullopt;
}

class Degradation : public NrdSystemTest {
protected:
  // Runs the scenario up to the switch; returns it (or fails the test).
  Switch degrade(const std::string& algorithm, const std::string& probe_settings, int session_bytes,
                 const std::vector<std::string>& cut_command, const std::function<bool(const nlohmann::json&)>& moved) {
    start_daemon(write_nrd_config(algorithm + "period: 300ms\n", probe_settings));
    start_sessions(30, session_bytes);
    EXPECT_TRUE(wait_for_subscribers(1));  // the shim subscribes when the program makes its first socket
    // Sessions run on blue under version 1, and nRD has probed both paths a few times.
    EXPECT_TRUE(eventually([&] { return decided_sessions() >= 5 && record().size() >= 3; }));
    const auto s = status();
    EXPECT_TRUE(s && (*s)["policy"]["version"] == 1) << "a version was published before the degradation";
    must_run(cut_command);
    cut_ = monotonic_now();  // the degradation is in force from here (the command has returned)
    std::optional<Switch> found;
    EXPECT_TRUE(eventually([&] { return (found = find_switch(record(), cut_, moved)).has_value(); }))
        << "nRD never published a policy that moves sessions";
    if (!found) return {};
    std::cout << "nRD published version " << found->version << " in period " << found->periods_after_cut
              << " after the cut (" << (found->published_at - cut_) * 1000 << " ms after it)\n";
    // Let the program open sessions under the new version for a while (more than a period), then stop it.
    EXPECT_TRUE(eventually([&] {
      std::size_t n = 0;
      for (const auto& d : decisions()) n += d["policy_version"].get<std::uint64_t>() >= found->version;
      return n >= 15;
    }));
    sessions_outcome_ = stop_sessions();
    return *found;
  }

  // The decision log: versions before the switch chose blue (or fell back from it, or went to red while the
  // shim's own circuit breaker had blue marked down: blue lost races unanswered), versions from the switch on
  // chose red directly.
  void expect_sessions_moved(const Switch& sw) {
    std::size_t after = 0;
    const auto marks = local_health();
    const auto blue_marked_down_at = [&](double time) {
      bool down = false;
      for (const auto& m : marks)
        if (m["stack"] == "blue" && m["time"].get<double>() <= time) down = !m["healthy"].get<bool>();
      return down;
    };
    for (const auto& d : decisions()) {
      const auto version = d["policy_version"].get<std::uint64_t>();
      if (version >= sw.version) {
        ++after;
        EXPECT_EQ(d["stack"], "red") << d.dump();
        EXPECT_FALSE(d.contains("fallback_from")) << d.dump();
      } else {
        EXPECT_TRUE(d["stack"] == "blue" || d.value("fallback_from", "") == "blue" ||
                    (d["stack"] == "red" && blue_marked_down_at(d["time"].get<double>())))
            << d.dump();
      }
    }
    for (const auto& m : marks) EXPECT_EQ(m["stack"], "blue") << m.dump();
    EXPECT_GE(after, 5u);
    // Races happened before the switch only, when blue did not answer within the attempt delay; none once red came
    // first. Either may have won: a rate cut slows blue's handshakes, it does not silence them (a race line
    // `blue:ok;red:lost@100ms` is blue answering after red had started).
    for (const auto& r : races()) {
      EXPECT_LT(r["policy_version"].get<std::uint64_t>(), sw.version) << r.dump();
      EXPECT_TRUE(r["stack"] == "red" || r["stack"] == "blue") << r.dump();
      EXPECT_EQ(r["attempts"].get<std::string>().rfind("blue:", 0), 0u) << r.dump();  // blue was tried first
    }
  }

  // The program's own lines: a session that started one period after the publication used red, and none that
  // started after the cut failed.
  void expect_program_followed(const Switch& sw) {
    const auto sessions = parse_sessions(sessions_outcome_.out);
    ASSERT_FALSE(sessions.empty()) << sessions_outcome_.out;
    std::size_t late = 0;
    for (const auto& s : sessions) {
      if (s.t > cut_) EXPECT_TRUE(s.ok) << "session " << s.session << " started after the cut and failed";
      if (s.t > sw.published_at + 0.3) {
        ++late;
        EXPECT_EQ(s.stack, "red") << "session " << s.session << " at " << s.t << ", policy published at "
                                  << sw.published_at;
      }
    }
    EXPECT_GE(late, 1u);
  }

  double cut_ = 0;
  Outcome sessions_outcome_;
};

TEST_F(Degradation, RateCutOnOnePathMovesNewSessionsWithinTwoPeriods) {
  // min-rtt with a wide hysteresis: red must be 10x better than blue before sessions move, so RTT noise on two
  // idle veths never publishes anything. The cut (tbf at 256 kbit/s on blue's egress) makes blue's 4 KiB echo
  // probes, and the program's 8 KiB sessions on blue, about a hundred times slower.
  const Switch sw =
      degrade("algorithm: min-rtt\nparams: {hysteresis: 0.9}\n", "  interval: 100ms\n  timeout: 2s\n  payload: 4KiB\n",
              /*session_bytes=*/8192,
              {"ip", "netns", "exec", topo_->blue(), "tc", "qdisc", "add", "dev", "v0", "root", "tbf", "rate",
               "256kbit", "burst", "1600", "latency", "2s"},
              [](const nlohmann::json& p) { return p["rules"][0]["use"][0] == "red"; });
  ASSERT_GT(sw.version, 1u);
  EXPECT_LE(sw.periods_after_cut, 2u) << "nRD published the move " << sw.periods_after_cut << " periods after the cut";
  expect_sessions_moved(sw);
  expect_program_followed(sw);
  EXPECT_TRUE(exited_with(sessions_outcome_, 0));  // a slower path is still a working one
}

TEST_F(Degradation, LinkDownOnOnePathMovesNewSessionsWithinTwoPeriods) {
  // The static algorithm never re-ranks: what moves sessions here is nRD's health finding (probes fail, blue goes
  // into the policy's `down` list), which the orchestrator skips.
  const Switch sw = degrade("algorithm: static\n", "  interval: 100ms\n  timeout: 1s\n", /*session_bytes=*/16,
                            {"ip", "-n", topo_->blue(), "link", "set", "v0", "down"}, [](const nlohmann::json& p) {
                              for (const auto& d : p["down"])
                                if (d == "blue") return true;
                              return false;
                            });
  ASSERT_GT(sw.version, 1u);
  EXPECT_LE(sw.periods_after_cut, 2u) << "nRD published the move " << sw.periods_after_cut << " periods after the cut";
  expect_sessions_moved(sw);
  expect_program_followed(sw);
}

}  // namespace
}  // namespace dmm::test
