// dmm-bench: real-backend benchmarks (DESIGN.md §2.3). Each suite measures its figures for several variants over
// several interleaved rounds and prints every figure with its slowdown against a baseline measured in the same
// run; the figures and raw samples are also written as JSON. Exit codes: 0 ok (targets missed are reported, not
// failed, unless --check), 1 a target missed with --check, 2 bad usage, 3 runtime failure.
//
//   dmm-bench [SUITE...] [--rounds N] [--quick] [--out DIR] [--check] [--verbose]
//   dmm-bench client --workload pingpong|bulk|connect --to ADDR:PORT [...]   (the measuring client; internal)
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "client_workloads.hpp"
#include "core_client.hpp"
#include "dmm/units.hpp"
#include "ab_suite.hpp"
#include "apps_suite.hpp"
#include "kernel_suite.hpp"
#include "first_session_suite.hpp"
#include "udp_suite.hpp"
#include "lwip_suite.hpp"

namespace po = boost::program_options;
using namespace dmm;
using namespace dmm::bench;

namespace {

constexpr int kExitOk = 0, kExitTargetsMissed = 1, kExitUsage = 2, kExitRuntime = 3;

using Suite = std::function<Result<BenchReport>(const BenchOptions&)>;

const std::map<std::string, std::pair<Suite, std::string>>& suites() {
  static const std::map<std::string, std::pair<Suite, std::string>> all{
      {"kernel", {run_kernel_suite, "the preload shim on the kernel stack vs plain kernel: TCP ping-pong p50/p99, "
                                    "bulk throughput, connect+close rate (veth between two namespaces)"}},
      {"lwip", {run_lwip_suite, "lwip-dpdk (net_af_packet) vs a kernel instance, same client (core API), same kind "
                                "of veth: TCP ping-pong p50/p99, bulk throughput"}},
      {"first-session", {run_first_session_suite, "a program's first session: process start to first connect under "
                                                  "dmm-run, on a kernel instance vs lwip-dpdk inside the program vs "
                                                  "lwip-dpdk run by dmm-stackd"}},
      {"udp", {run_udp_suite, "UDP request/response from one unconnected socket to 4 servers under dmm-run: a kernel "
                              "instance vs lwip-dpdk inside the program vs lwip-dpdk run by dmm-stackd"}},
      {"udp-tx", {run_udp_tx_suite, "UDP transmit rate: lwip-dpdk on net_null vs a kernel socket into a veth "
                                    "whose peer drops (64-byte frames)"}},
      {"apps", {run_apps_suite, "redis-benchmark against redis-server and wrk against nginx, over a kernel veth vs "
                                "under dmm-run over lwip-dpdk (inside the program, and run by dmm-stackd)"}},
      {"ab", {run_ab_suite, "ApacheBench (a new connection per request) against nginx: plain vs under dmm-run "
                            "placing every connection on a netns instance, as root and as nobody (dmm-stackd)"}},
  };
  return all;
}

int usage_error(const std::string& what) {
  std::cerr << "dmm-bench: " << what << "\nTry 'dmm-bench --help'.\n";
  return kExitUsage;
}

// `dmm-bench client ...`: one measurement, printed as one JSON object on stdout.
int client_main(int argc, char** argv) {
  std::string workload, to, duration_text = "2s", api = "posix", stack_kind = "kernel";
  std::vector<std::string> params;
  int count = 10000, warmup = 1000, peers = 1;
  std::size_t size = 64, write_size = 128 * 1024;
  po::options_description desc("Usage: dmm-bench client --workload KIND --to ADDR:PORT [options]\n\nOptions");
  desc.add_options()("help,h", "print this help and exit")(
      "workload", po::value(&workload)->required(), "posix: pingpong, udp-pingpong, bulk, connect, first; core: pingpong, bulk, udp-flood")(
      "to", po::value(&to)->required(), "server as ADDR:PORT (IPv6 as [ADDR]:PORT)")(
      "api", po::value(&api), "posix (blocking sockets: what the shim sees) or core (Stack/Connection API)")(
      "stack", po::value(&stack_kind), "core: the stack kind to build (kernel, lwip-dpdk)")(
      "param", po::value(&params)->composing(), "core: a stack parameter KEY=VALUE (repeatable)")(
      "count", po::value(&count), "ping-pong: timed round trips")("warmup", po::value(&warmup),
                                                                  "ping-pong: untimed round trips first")(
      "size", po::value(&size), "ping-pong: message size in bytes")("write-size", po::value(&write_size),
                                                                     "bulk: bytes per write")(
      "duration", po::value(&duration_text), "bulk, connect: how long to run (e.g. 2s, 500ms)")(
      "peers", po::value(&peers), "udp-pingpong: echo servers on consecutive ports from --to's, asked in turn");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    if (vm.count("help")) {
      std::cout << desc;
      return kExitOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(std::string("client: ") + e.what());
  }
  const auto colon = to.rfind(':');
  if (colon == std::string::npos) return usage_error("client: --to must be ADDR:PORT, got '" + to + "'");
  std::string address = to.substr(0, colon);
  if (address.size() > 2 && address.front() == '[' && address.back() == ']')
    address = address.substr(1, address.size() - 2);
  int port = 0;
  try {
    port = std::stoi(to.substr(colon + 1));
  } catch (...) {
  }
  if (port <= 0 || port > 65535) return usage_error("client: bad port in --to '" + to + "'");
  const ClientTarget target{address, static_cast<std::uint16_t>(port)};
  Result<Duration> duration = parse_duration(duration_text);
  if (!duration) return usage_error("client: --duration: " + duration.error().message);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*duration);

  Result<nlohmann::json> figures = make_error(EINVAL, "");
  if (api == "core") {
    CoreClientOptions core{stack_kind, {}, workload, {}, count, warmup, size, write_size, ms};
    auto ip = IpAddress::parse(address);
    if (!ip) return usage_error("client: --to: " + ip.error().message);
    core.to = Endpoint{*ip, target.port};
    for (const auto& p : params) {
      const auto eq = p.find('=');
      if (eq == std::string::npos || eq == 0) return usage_error("client: --param must be KEY=VALUE, got '" + p + "'");
      core.params[p.substr(0, eq)] = p.substr(eq + 1);
    }
    figures = run_core_client(core);
  } else if (api != "posix") {
    return usage_error("client: --api must be posix or core, got '" + api + "'");
  } else if (workload == "pingpong")
    figures = run_pingpong(target, count, warmup, size);
  else if (workload == "udp-pingpong") {
    if (peers < 1 || target.port + peers - 1 > 65535)
      return usage_error("client: --peers " + std::to_string(peers) + " (1.., on ports up to 65535)");
    figures = run_udp_pingpong(target, count, warmup, size, peers);
  }
  else if (workload == "bulk")
    figures = run_bulk(target, ms, write_size);
  else if (workload == "connect")
    figures = run_connect_close(target, ms);
  else if (workload == "first")
    figures = run_first_session(target);
  else
    return usage_error("client: unknown workload '" + workload + "' (pingpong, udp-pingpong, bulk, connect, first)");
  if (!figures) {
    std::cerr << "dmm-bench client " << workload << ": " << figures.error().message << "\n";
    return kExitRuntime;
  }
  std::cout << figures->dump() << std::endl;
  return kExitOk;
}

// SIGINT/SIGTERM become readable on a signalfd, so that a run in progress stops cleanly: the client is killed and
// the lab's namespaces are removed on the way out. Blocked before any thread starts, so every thread has them
// blocked; children unblock them before exec.
int interrupt_fd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "client") return client_main(argc - 1, argv + 1);

  std::string suite_help = "\nSuites:\n";
  for (const auto& [name, suite] : suites()) suite_help += "  " + name + ": " + suite.second + "\n";
  po::options_description desc(
      "Usage: dmm-bench [SUITE...] [--rounds N] [--quick] [--control] [--out DIR] [--check] [--verbose]\n\n"
      "Benchmarks DMM's real backends inside network namespaces it creates (dmmb-<pid>-*, removed afterwards;\n"
      "needs root). Prints each figure with its slowdown against a baseline measured in the same run, and writes\n"
      "DIR/SUITE.json (raw samples too). Default suite: kernel.\n" +
      suite_help + "\nOptions");
  std::vector<std::string> chosen;
  std::string out_dir = "results/bench";
  BenchOptions options;
  bool check = false;
  desc.add_options()("help,h", "print this help and exit")(
      "rounds", po::value(&options.rounds)->default_value(5), "rounds per suite (median over rounds)")(
      "quick", po::bool_switch(&options.quick), "tiny counts, one round: checks that everything runs")(
      "out", po::value(&out_dir)->default_value(out_dir), "directory for SUITE.json")(
      "check", po::bool_switch(&check), "exit 1 if a figure misses its target")(
      "verbose,v", po::bool_switch(&options.verbose), "print each client's figures as they come")(
      "control", po::bool_switch(&options.control),
      "also run the baseline again as a variant: its slowdown shows this run's noise");
  po::options_description hidden;
  hidden.add_options()("suite", po::value(&chosen));
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description positional;
  positional.add("suite", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << desc;
      return kExitOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (chosen.empty()) chosen = {"kernel"};
  for (const auto& name : chosen)
    if (!suites().count(name)) return usage_error("unknown suite '" + name + "'");
  if (options.rounds < 1 || options.rounds > 1000) return usage_error("--rounds must be between 1 and 1000");
  if (options.quick) options.rounds = 1;
  if (::geteuid() != 0) {
    std::cerr << "dmm-bench: needs root (it creates network namespaces and veth pairs)\n";
    return kExitRuntime;
  }

  std::error_code ec;
  options.self = std::filesystem::read_symlink("/proc/self/exe", ec);
  options.dmm_run = options.self.parent_path() / "dmm-run";
  if (ec || !std::filesystem::exists(options.dmm_run)) {
    std::cerr << "dmm-bench: cannot find dmm-run next to " << options.self << "\n";
    return kExitRuntime;
  }
  char work_template[] = "/tmp/dmm-bench-XXXXXX";
  if (!::mkdtemp(work_template)) {
    std::cerr << "dmm-bench: cannot make a temporary directory\n";
    return kExitRuntime;
  }
  options.work_dir = work_template;
  options.cancel_fd = interrupt_fd();
  std::filesystem::create_directories(out_dir, ec);

  int exit_code = kExitOk;
  for (const auto& name : chosen) {
    Result<BenchReport> report = suites().at(name).first(options);
    if (!report) {
      std::cerr << "dmm-bench " << name << ": " << report.error().message << "\n";
      exit_code = kExitRuntime;
      break;
    }
    report->print(std::cout);
    const auto json_path = std::filesystem::path(out_dir) / (name + ".json");
    std::ofstream json(json_path);
    json << report->to_json().dump(2) << "\n";
    if (!json.flush()) {
      std::cerr << "dmm-bench: cannot write " << json_path << "\n";
      exit_code = kExitRuntime;
      break;
    }
    std::cout << "wrote " << json_path.string() << "\n\n";
    if (check && !report->all_targets_met()) exit_code = kExitTargetsMissed;
  }
  std::filesystem::remove_all(options.work_dir, ec);
  return exit_code;
}
