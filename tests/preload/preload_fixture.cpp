#include "preload_fixture.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace dmm::test {

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
