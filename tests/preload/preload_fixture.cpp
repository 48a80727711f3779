#include "preload_fixture.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <fstream>
#include <sstream>

namespace dmm::test {

std::string sha256_of(const std::string& path) {
  const Outcome o = run({"sha256sum", path}, std::chrono::seconds(10));
  return o.out.substr(0, o.out.find(' '));
}

std::string write_random_file(const TempDir& dir, const std::string& name, std::size_t size) {
  std::string body(size, '\0');
  std::mt19937 rng(42);
  for (auto& c : body) c = static_cast<char>(rng());
  return dir.write(name, body);
}

Child start_http_server(const Topology& topo, const std::string& ns, const std::string& address,
                        const std::string& directory, const std::string& port) {
  Child http = Child::spawn(topo.in(ns, {"/usr/bin/python3", "-u", "-m", "http.server", "--bind", address,
                                         "--directory", directory, port}));
  // It prints "Serving HTTP on ..." once it is listening: wait for that line, not for a guessed time.
  const auto banner = http.read_line(std::chrono::seconds(15));
  if (!banner || banner->find("Serving HTTP") == std::string::npos)
    throw std::runtime_error("http.server did not start: " + http.wait(std::chrono::seconds(1)).err);
  return http;
}

Child start_iperf3_server(const Topology& topo, const std::string& ns, const std::string& port) {
  Child server = Child::spawn(topo.in(ns, {"iperf3", "-s", "-1", "-p", port, "--forceflush"}));
  // "Server listening on PORT" is printed once the socket is listening.
  std::optional<std::string> line;
  while ((line = server.read_line(std::chrono::seconds(10))) && line->find("Server listening") == std::string::npos) {
  }
  if (!line) throw std::runtime_error("iperf3 -s did not start: " + server.wait(std::chrono::seconds(1)).err);
  return server;
}

int occurrences(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

std::map<std::string, std::string> facts(const std::string& out) {
  std::map<std::string, std::string> f;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      const auto eq = word.find('=');
      if (eq != std::string::npos) f[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  return f;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/dmmp-test-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
  const std::string p = file(name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string dmm_run_bin() { return DMM_RUN_BIN; }
std::string preload_library() { return DMM_PRELOAD_LIB; }
std::string probe_bin() { return DMM_PROBE_BIN; }
std::string stackd_bin() { return DMM_STACKD_BIN; }
std::string test_program(const std::string& name) { return std::string(DMM_PRELOAD_PROGRAMS) + "/" + name; }

std::string to_string(UserStacksIn mode) { return mode == UserStacksIn::program ? "InProgram" : "InService"; }

std::vector<pid_t> stack_services_of(const std::string& config) {
  std::vector<pid_t> pids;
  if (config.empty()) return pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_text(entry.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find("dmm-stackd") != std::string::npos && cmdline.find(config) != std::string::npos)
      pids.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return pids;
}

void stop_stack_services_of(const std::string& config) {
  const std::vector<pid_t> pids = stack_services_of(config);
  for (pid_t pid : pids) ::kill(pid, SIGTERM);
  for (pid_t pid : pids) {
    for (int i = 0; i < 500 && ::kill(pid, 0) == 0; ++i) ::usleep(10'000);
    if (::kill(pid, 0) == 0) ::kill(pid, SIGKILL);
  }
}

void PreloadTest::TearDown() {
  for (const std::string& config : user_configs_) stop_stack_services_of(config);
}

void PreloadTest::SetUp() {
  topo_ = std::make_unique<Topology>();
  dir_ = std::make_unique<TempDir>();
  log_ = dir_->file("decisions.jsonl");
}

std::string PreloadTest::write_config(const std::string& policy, const std::string& name) {
  return dir_->write(name, "stacks:\n"
                           "  - {name: host, kind: kernel}\n"
                           "  - {name: blue, kind: kernel, netns: " + topo_->blue() + "}\n"
                           "  - {name: red, kind: kernel, netns: " + topo_->red() + "}\n"
                           "  - {name: dead, kind: kernel, netns: " + topo_->dead() + "}\n"
                           "policy:\n" + policy);
}

std::string PreloadTest::write_user_config(const std::string& policy, const std::string& name) {
  if (!user_paths_) {  // a test may write several configs over the same paths
    topo_->add_user_path(0);
    topo_->add_user_path(1);
    user_paths_ = true;
  }
  const bool in_service = user_stacks_in_ == UserStacksIn::service;
  const std::string allow = in_service ? ", allow: {users: [nobody]}" : "";
  const std::string service = in_service ? "service: {socket: " + dir_->file("stackd.sock") + "}\n" : "";
  user_configs_.push_back(dir_->file(name));
  user_config_ = dir_->write(name, "stacks:\n"
                                 "  - {name: host, kind: kernel}\n"
                                 "  - {name: blue, kind: kernel, netns: " + topo_->blue() + "}\n"
                                 "  - {name: user0, kind: lwip-dpdk, vdev: 'net_af_packet0,iface=u0', "
                                 "address: 10.232.3.2/24, netns: " + topo_->cli() + allow + "}\n"
                                 "  - {name: user1, kind: lwip-dpdk, vdev: 'net_af_packet1,iface=u1', "
                                 "address: 10.232.4.2/24, netns: " + topo_->cli() + allow + "}\n"
                                 "policy:\n" + policy + service);
  return user_config_;
}

std::string PreloadTest::default_config() {
  return write_config("  - {match: {dst: 10.232.1.0/24}, use: [blue]}\n"
                      "  - {match: {dst: 'fd00:232:1::/64'}, use: [blue]}\n"
                      "  - {match: {dst: 10.232.2.0/24}, use: [red]}\n"
                      "  - {match: {}, use: [host]}\n");
}

Outcome PreloadTest::run_dmm(const std::string& config, const std::vector<std::string>& command,
                             const std::vector<std::string>& extra_options) {
  std::vector<std::string> argv{dmm_run_bin(), "--config", config, "--log", log_};
  argv.insert(argv.end(), extra_options.begin(), extra_options.end());
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return run(topo_->in_cli(argv));
}

Outcome PreloadTest::run_plain(const std::vector<std::string>& command) { return run(topo_->in_cli(command)); }

std::vector<std::string> PreloadTest::probe(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{probe_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

::testing::AssertionResult exited_with(const Outcome& o, int code) {
  if (o.finished && o.exit_code == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << (o.finished ? "exit code " + std::to_string(o.exit_code) : "timed out")
                                       << " (expected " << code << ")\n--- stdout\n"
                                       << o.out << "--- stderr\n"
                                       << o.err;
}

}  // namespace dmm::test
