#include "nrd_system.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace dmm::test {

std::string nrd_bin() { return DMM_NRD_BIN; }
std::string ctl_bin() { return DMM_CTL_BIN; }
std::string session_loop_bin() { return DMM_SESSION_LOOP_BIN; }

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::vector<nlohmann::json> read_json_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

std::vector<SessionLine> parse_sessions(const std::string& out) {
  std::vector<SessionLine> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("session=", 0) != 0) continue;
    const auto f = facts(line);
    SessionLine s;
    s.session = std::stol(f.at("session"));
    s.t = std::stod(f.at("t"));
    s.stack = f.at("stack");
    s.ok = f.at("ok") == "1";
    lines.push_back(s);
  }
  return lines;
}

void NrdSystemTest::SetUp() {
  topo_ = std::make_unique<Topology>();
  dir_ = std::make_unique<TempDir>();
  // The echo service on both of srv's addresses: the probes' target and the sessions' server.
  echo_ = std::make_unique<EchoServer>(topo_->srv(), std::vector<std::string>{kBlueServer, kRedServer}, 7);
  decision_log_ = dir_->file("decisions.jsonl");
  record_ = dir_->file("nrd-record.jsonl");
  stop_file_ = dir_->file("stop");
}

void NrdSystemTest::TearDown() {
  if (sessions_) {
    dir_->write("stop", "");
    sessions_->wait(std::chrono::seconds(5));
  }
  if (daemon_) daemon_->kill_group();
  daemon_.reset();
  echo_.reset();
  topo_.reset();
}

std::string NrdSystemTest::write_host_config() {
  host_config_ = dir_->write("dmm.yaml", "stacks:\n"
                                         "  - {name: blue, kind: kernel, netns: " + topo_->blue() + "}\n"
                                         "  - {name: red, kind: kernel, netns: " + topo_->red() + "}\n"
                                         "policy:\n"
                                         "  - {match: {}, use: [blue, red]}\n"
                                         "nrd: {socket: nrd.sock}\n");
  return host_config_;
}

std::string NrdSystemTest::write_nrd_config(const std::string& extra, std::optional<std::string> probes) {
  if (host_config_.empty()) write_host_config();
  std::string text = "host: dmm.yaml\nstate: state.json\nrecord: nrd-record.jsonl\n";
  if (probes)
    text += "probes:\n" + *probes + "  targets:\n    - {stack: blue, to: " + kBlueServer + ":7}\n" +
            "    - {stack: red, to: " + kRedServer + ":7}\n";
  return dir_->write("nrd.yaml", text + extra);
}

void NrdSystemTest::start_daemon(const std::string& nrd_config) {
  daemon_.reset();
  daemon_.emplace(Child::spawn(topo_->in_cli({nrd_bin(), "--config", nrd_config})));
  const bool up = eventually([&] { return status().has_value(); });
  ASSERT_TRUE(up) << "dmm-nrd did not come up:\n" << daemon_->wait(std::chrono::seconds(1)).err;
}

void NrdSystemTest::kill_daemon() {
  ASSERT_TRUE(daemon_);
  daemon_->kill_group();
  const Outcome o = daemon_->wait(std::chrono::seconds(5));
  EXPECT_EQ(o.exit_code, 128 + SIGKILL);
  daemon_.reset();
}

void NrdSystemTest::stop_daemon() {
  ASSERT_TRUE(daemon_);
  ::kill(daemon_->pid(), SIGTERM);
  const Outcome o = daemon_->wait(std::chrono::seconds(5));
  EXPECT_TRUE(exited_with(o, 0));
  daemon_.reset();
}

Outcome NrdSystemTest::ctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{ctl_bin(), "--socket", socket_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(topo_->in_cli(argv), std::chrono::seconds(10));
}

std::optional<nlohmann::json> NrdSystemTest::status() {
  const Outcome o = ctl({"status", "--json"});
  if (!o.finished || o.exit_code != 0) return std::nullopt;
  auto j = nlohmann::json::parse(o.out, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

bool NrdSystemTest::wait_for_subscribers(std::size_t n, std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        const auto s = status();
        return s && (*s)["subscribers"] == n;
      },
      timeout);
}

void NrdSystemTest::start_sessions(int interval_ms, int bytes) {
  ::unlink(stop_file_.c_str());
  sessions_.emplace(Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", host_config_, "--log", decision_log_, "--",
                                                session_loop_bin(), kBlueServer, "7", std::to_string(interval_ms),
                                                stop_file_, "0", std::to_string(bytes)})));
}

Outcome NrdSystemTest::stop_sessions() {
  dir_->write("stop", "");
  Outcome o = sessions_->wait(std::chrono::seconds(20));
  sessions_.reset();
  return o;
}

std::size_t NrdSystemTest::decided_sessions() const { return decisions().size(); }

}  // namespace dmm::test
