// dmm-ctl: talks to a running dmm-nrd (README "dmm-ctl"). Exit codes: 0 ok, 2 bad input or usage (a policy file
// that is not a policy, or one the daemon refuses), 3 runtime failure (no daemon, refused, connection lost).
#include <fcntl.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "ctl_print.hpp"
#include "dmm/host/host_config.hpp"
#include "dmm/json_reader.hpp"
#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/nrd/nrd_client.hpp"
#include "dmm/policy_json.hpp"

namespace po = boost::program_options;
using namespace dmm;
using namespace dmm::nrd;

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitRuntime = 3;
constexpr const char* kDefaultSocket = "/run/dmm/nrd.sock";

int usage_error(const std::string& what) {
  std::cerr << "dmm-ctl: " << what << "\nTry 'dmm-ctl --help'.\n";
  return kExitUsage;
}

int runtime_error(const std::string& what) {
  std::cerr << "dmm-ctl: " << what << "\n";
  return kExitRuntime;
}

// --socket, --tcp, else the host config's nrd section (--config or $DMM_CONFIG), else the default socket.
Result<NrdAddress> resolve_address(const po::variables_map& vm) {
  if (vm.count("socket") && vm.count("tcp")) return make_error(EINVAL, "give --socket or --tcp, not both");
  if (vm.count("socket")) {
    // A path on the command line is the shell's: relative to the working directory, like any other tool's.
    std::string path = vm["socket"].as<std::string>();
    if (!path.empty() && path.front() != '/' && path.rfind("unix:", 0) != 0 && path.rfind("tcp:", 0) != 0) {
      std::error_code ec;
      const auto absolute = std::filesystem::absolute(path, ec);
      if (!ec) path = absolute.lexically_normal().string();
    }
    return NrdAddress::parse(path);
  }
  if (vm.count("tcp")) return NrdAddress::parse("tcp:" + vm["tcp"].as<std::string>());
  std::string config = vm.count("config") ? vm["config"].as<std::string>() : "";
  if (config.empty())
    if (const char* env = std::getenv("DMM_CONFIG")) config = env;
  if (config.empty()) return NrdAddress::unix_socket(kDefaultSocket);
  auto host = host::load_host_config_file(config);
  if (!host) return host.error();
  if (!host->nrd) return make_error(EINVAL, config + ": has no nrd section; give --socket or --tcp");
  if (host->nrd->tcp) return NrdAddress::tcp_endpoint(*host->nrd->tcp);
  return NrdAddress::unix_socket(host->nrd->socket);
}

// A policy file as `dmm-ctl policy` prints it (the version may be left out: the daemon numbers it).
Result<Policy> read_policy_file(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(ENOENT, path + ": cannot open for reading");
    text << in.rdbuf();
  }
  auto value = json::parse(text.str(), path);
  if (!value) return value.error();
  if (value->is_object() && !value->contains("version")) (*value)["version"] = 1;
  auto policy = policy_from_json(*value);
  if (!policy) return make_error(EINVAL, path + ": " + policy.error().message);
  return policy;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description desc(
      "Usage: dmm-ctl [--socket PATH | --tcp ADDRESS:PORT | --config dmm.yaml] COMMAND [ARGS]\n\n"
      "Commands:\n"
      "  status           stacks and nRD's estimates, the policy in force and its version, peers, counters\n"
      "  policy           the policy in force, as one JSON line (the form `push` reads)\n"
      "  push FILE        publish FILE's policy now as the next version (JSON; `-` reads stdin); only over\n"
      "                   the Unix socket. The algorithm re-ranks it at later periods like any policy.\n"
      "  watch            one line per nRD period: version, whether it published and why, estimates\n\n"
      "Without --socket/--tcp the daemon is found through the host config (--config, else $DMM_CONFIG), else\n"
      "at /run/dmm/nrd.sock.\n\n"
      "Options");
  std::string timeout_text = "5s";
  std::uint64_t count = 0;
  desc.add_options()
      ("help,h", "print this help and exit")
      ("socket,s", po::value<std::string>(), "the daemon's Unix-domain socket")
      ("tcp,t", po::value<std::string>(), "the daemon's TCP endpoint, ADDRESS:PORT")
      ("config,c", po::value<std::string>(), "host config (dmm.yaml) whose nrd section names the daemon")
      ("timeout", po::value(&timeout_text), "give up connecting or waiting for an answer after this long")
      ("json", "status, watch: print the daemon's JSON objects instead of tables")
      ("count,n", po::value(&count), "watch: stop after N periods (default: until interrupted)");
  po::options_description hidden;
  hidden.add_options()("words", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description positional;
  positional.add("words", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << desc << "\nExit codes: 0 ok, 2 bad input or usage, 3 runtime failure (no daemon, refused).\n";
    return 0;
  }
  const auto words = vm.count("words") ? vm["words"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (words.empty()) return usage_error("no command (status, policy, push FILE, watch)");
  const std::string& command = words[0];
  const bool wants_file = command == "push";
  if (command != "status" && command != "policy" && command != "push" && command != "watch")
    return usage_error("unknown command '" + command + "' (status, policy, push FILE, watch)");
  if (words.size() != (wants_file ? 2u : 1u))
    return usage_error(wants_file ? "push needs exactly one FILE" : "'" + command + "' takes no arguments");
  auto timeout = parse_duration(timeout_text);
  if (!timeout || timeout->count() <= 0) return usage_error("--timeout: " + (timeout ? "must be above 0" : timeout.error().message));
  auto address = resolve_address(vm);
  if (!address) return usage_error(address.error().message);

  std::optional<Policy> to_push;
  if (wants_file) {
    auto p = read_policy_file(words[1]);
    if (!p) {
      std::cerr << "dmm-ctl: " << p.error().message << "\n";
      return kExitUsage;
    }
    to_push = std::move(*p);
  }

  auto executor = kernel::EpollExecutor::create();
  if (!executor) return runtime_error("cannot create the event loop: " + executor.error().message);
  kernel::EpollExecutor& loop = **executor;

  NrdClientConfig cfg;
  cfg.address = *address;
  cfg.role = PeerRole::ctl;
  cfg.name = "dmm-ctl " + command;
  cfg.pid = static_cast<std::uint32_t>(::getpid());
  cfg.subscribe = false;
  cfg.watch = command == "watch";
  cfg.silence_timeout = *timeout;
  NrdClient client(loop, cfg, nullptr);

  std::optional<int> exit_code;
  std::string failure;
  std::uint64_t periods = 0;
  const bool as_json = vm.count("json") > 0;
  client.on_error = [&](const ErrorMessage& e) {
    failure = "dmm-nrd refused: " + e.reason + (e.message.empty() ? "" : " (" + e.message + ")");
  };
  client.on_link = [&](bool up) {
    if (!up) {
      if (!exit_code) {
        failure = failure.empty() ? "lost the connection to dmm-nrd: " + client.last_problem() : failure;
        exit_code = kExitRuntime;
      }
      return;
    }
    Status sent = to_push ? client.send(PushPolicy{*to_push}) : command == "watch" ? Status{} : client.send(StatusRequest{});
    if (!sent) {
      failure = sent.error().message;
      exit_code = kExitRuntime;
    }
  };
  client.on_reply = [&](Message& m) {
    if (auto* status = std::get_if<StatusMessage>(&m)) {
      if (command == "policy") {
        std::cout << status->body.value("policy", nlohmann::json()).dump() << "\n";
      } else if (as_json) {
        std::cout << status->body.dump(2) << "\n";
      } else {
        ctl::print_status(std::cout, status->body);
      }
      exit_code = 0;
    } else if (auto* result = std::get_if<PushResult>(&m)) {
      if (result->accepted) {
        std::cout << result->message << "\n";
        exit_code = 0;
      } else {
        failure = "dmm-nrd refused the policy: " + result->message;
        exit_code = kExitUsage;
      }
    }
  };
  client.on_decision = [&](const nlohmann::json& d) {
    if (as_json) std::cout << d.dump() << "\n";
    else ctl::print_decision(std::cout, d);
    std::cout.flush();
    if (count > 0 && ++periods >= count) exit_code = 0;
  };
  client.start();
  // One attempt: a control tool reports a missing daemon instead of waiting for it.
  const auto done = [&] { return exit_code.has_value() || (!client.welcomed() && client.counters().connect_failures > 0); };
  const bool watching = command == "watch";
  const bool finished = loop.run_until(done, watching ? Duration::max() / 2 : *timeout);
  client.stop();
  if (!exit_code) {
    if (!client.welcomed() && client.counters().connect_failures > 0)
      return runtime_error("cannot reach dmm-nrd at " + address->to_string() + ": " +
                           (failure.empty() ? client.last_problem() : failure));
    return runtime_error(finished ? failure : "no answer from dmm-nrd within " + timeout_text);
  }
  if (*exit_code != 0) std::cerr << "dmm-ctl: " << failure << "\n";
  return *exit_code;
}
