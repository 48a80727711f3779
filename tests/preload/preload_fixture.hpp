#pragma once
// What the preload tests share: the topology, a host config naming its namespaces, and running a command inside
// the client namespace with or without dmm-run.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "netns_topology.hpp"
#include "subprocess.hpp"

namespace dmm::test {

// `key=value` lines of a probe's stdout.
std::map<std::string, std::string> facts(const std::string& out);
// How many times `needle` occurs in `text`.
int occurrences(const std::string& text, const std::string& needle);
// One JSON object per non-empty line (the decision log).
std::vector<nlohmann::json> json_lines(const std::string& text);

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string write(const std::string& name, const std::string& text) const;  // returns the path

private:
  std::string path_;
};

std::string read_text(const std::string& path);
std::string sha256_of(const std::string& path);
// Writes `size` pseudo-random bytes (fixed seed) as `name` under `dir`; returns the path.
std::string write_random_file(const TempDir& dir, const std::string& name, std::size_t size);
// `python3 -m http.server` serving `directory` at address:port inside `ns`, once it listens.
Child start_http_server(const Topology& topo, const std::string& ns, const std::string& address,
                        const std::string& directory, const std::string& port);
// `iperf3 -s -1` on `port` inside `ns`, once it listens.
Child start_iperf3_server(const Topology& topo, const std::string& ns, const std::string& port);
std::string dmm_run_bin();
std::string preload_library();
std::string probe_bin();
std::string stackd_bin();
// A script or config of tests/preload/programs/.
std::string test_program(const std::string& name);

// How the lwip-dpdk instances of write_user_config run: inside each program under dmm-run (no `service:`), or in
// dmm-stackd for every program (the config has `service:`; dmm-run starts the daemon on demand).
enum class UserStacksIn { program, service };
std::string to_string(UserStacksIn mode);

// Every dmm-stackd process whose command line names `config` gets SIGTERM (SIGKILL after 5 s): daemons that dmm-run
// started on demand outlive their programs, and a test must leave none behind.
void stop_stack_services_of(const std::string& config);
// The dmm-stackd processes whose command line names `config`.
std::vector<pid_t> stack_services_of(const std::string& config);
// Stops them when it goes out of scope (a test that writes a config of its own).
struct StackServicesStopper {
  std::string config;
  ~StackServicesStopper() { stop_stack_services_of(config); }
};

class PreloadTest : public ::testing::Test {
protected:
  void SetUp() override;
  void TearDown() override;
  // Set before write_user_config: where its lwip-dpdk instances run.
  UserStacksIn user_stacks_in_ = UserStacksIn::program;

  // Stacks host (the client's own namespace), blue, red, dead; `policy` is the YAML list of rules, written with
  // the stack names as they are (the namespaces behind them are the topology's).
  std::string write_config(const std::string& policy, const std::string& name = "dmm.yaml");
  // The default policy: blue's and red's subnets (v4 and v6) by destination, everything else on host.
  std::string default_config();
  // The same stacks plus lwip-dpdk instances user0 and user1 on the user paths (Topology::add_user_path, made
  // here), and `policy`.
  std::string write_user_config(const std::string& policy, const std::string& name = "dmm.yaml");

  // `dmm-run --config CONFIG --log LOG -- command...` inside the client namespace.
  Outcome run_dmm(const std::string& config, const std::vector<std::string>& command,
                  const std::vector<std::string>& extra_options = {});
  Outcome run_plain(const std::vector<std::string>& command);
  std::vector<std::string> probe(const std::vector<std::string>& args) const;

  std::unique_ptr<Topology> topo_;
  std::unique_ptr<TempDir> dir_;
  std::string log_;
  std::string user_config_;  // the last config write_user_config wrote
  bool user_paths_ = false;  // write_user_config made the user paths
  std::vector<std::string> user_configs_;  // every config it wrote (their daemons are stopped at the end)
};

// Assertion helper: the outcome finished with `code`, printing the command's output otherwise.
::testing::AssertionResult exited_with(const Outcome& o, int code);

}  // namespace dmm::test
