#pragma once
// Whole programs in test-made namespaces: dmm-nrd (run inside the client namespace), dmm-ctl, and a session loop
// under dmm-run, over the preload tests' topology (cli; blue and red, two veth paths to srv; srv runs the echo
// service that both the probes and the sessions use). Everything is removed afterwards, also on failure.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "echo_server.hpp"
#include "netns_topology.hpp"
#include "preload_fixture.hpp"
#include "subprocess.hpp"

namespace dmm::test {

std::string nrd_bin();
std::string ctl_bin();
std::string session_loop_bin();

// Polls `done` every 20 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Every line of a JSON-lines file that parses (a line being written may be cut: it is skipped).
std::vector<nlohmann::json> read_json_lines(const std::string& path);

struct SessionLine {
  long session = 0;
  double t = 0;  // CLOCK_MONOTONIC seconds at the session's start
  std::string stack;
  bool ok = false;
};
std::vector<SessionLine> parse_sessions(const std::string& out);

class NrdSystemTest : public ::testing::Test {
protected:
  void SetUp() override;
  void TearDown() override;

  // dmm.yaml: stacks blue and red (the topology's namespaces), every destination ranked [blue, red], nrd socket.
  std::string write_host_config();
  // nrd.yaml naming it, with a state file and a decision record; probes blue -> 10.232.1.1:7 and red ->
  // 10.232.2.1:7 (each over its own path) unless `probes` is empty, with `probes` lines (indented two spaces)
  // under `probes:`; `extra` top-level lines appended.
  std::string write_nrd_config(const std::string& extra, std::optional<std::string> probes = "");
  // Starts dmm-nrd inside the client namespace and waits until dmm-ctl reaches it.
  void start_daemon(const std::string& nrd_config);
  void kill_daemon();  // SIGKILL
  void stop_daemon();  // SIGTERM; expects exit 0

  // `dmm-ctl ARGS` (inside the client namespace, with --socket).
  Outcome ctl(const std::vector<std::string>& args);
  std::optional<nlohmann::json> status();
  // Waits until the daemon lists `n` subscribed peers.
  bool wait_for_subscribers(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The session loop under dmm-run in the client namespace: a session to 10.232.1.1:7 (reachable over both
  // paths) every `interval_ms`, `bytes` echoed each, until stop_sessions().
  void start_sessions(int interval_ms, int bytes = 16);
  Outcome stop_sessions();
  // The shim's decisions, one per session (its `race` lines — how a race that tried a second stack ended — are
  // races(): a session raced over to another instance has both).
  // The decision log's lines about sessions (a placement each), how races ended, and the shim's circuit breaker's
  // marks (local-health).
  std::vector<nlohmann::json> decisions() const { return lines_of(""); }
  std::vector<nlohmann::json> races() const { return lines_of("race"); }
  std::vector<nlohmann::json> local_health() const { return lines_of("local-health"); }
  std::vector<nlohmann::json> record() const { return read_json_lines(record_); }
  std::size_t decided_sessions() const;
  // "": the placements (every event but race and local-health).
  std::vector<nlohmann::json> lines_of(const std::string& event) const {
    std::vector<nlohmann::json> out;
    for (auto& line : read_json_lines(decision_log_)) {
      const std::string e = line.value("event", "");
      const bool placement = e != "race" && e != "local-health";
      if (event.empty() ? placement : e == event) out.push_back(line);
    }
    return out;
  }

  std::string socket_path() const { return dir_->file("nrd.sock"); }

  std::unique_ptr<Topology> topo_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<EchoServer> echo_;
  std::optional<Child> daemon_;
  std::optional<Child> sessions_;
  std::string host_config_;
  std::string decision_log_;
  std::string record_;
  std::string stop_file_;
};

}  // namespace dmm::test
