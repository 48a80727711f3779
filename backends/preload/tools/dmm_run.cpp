// dmm-run [--config F] [--intent I] [--log FILE] -- PROGRAM ARGS...   (DESIGN.md §2.3)
// Checks the host config first (load + check_host), so that a bad config is reported with its FILE:LINE:COL
// before anything starts; then execs PROGRAM with libdmm_preload.so preloaded. Exit codes: 2 for bad input or
// usage, 3 when the installation is broken (no shim found), 127/126 when PROGRAM cannot be found/run (as a
// shell does), otherwise whatever PROGRAM returns (dmm-run becomes PROGRAM).
#include <fcntl.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "dmm/host/host_config.hpp"
#include "dmm/session.hpp"
#include "preload_library.hpp"
#include "stack_service_start.hpp"

namespace po = boost::program_options;

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitRuntime = 3;
constexpr int kExitCannotRun = 126;
constexpr int kExitNotFound = 127;
constexpr const char* kDefaultConfig = "/etc/dmm/dmm.yaml";

struct Options {
  std::string config;
  std::string intent;
  std::string log;
  std::vector<std::string> command;
};

// Options end at `--` or at the first word that is not an option (so `dmm-run prog -v` runs `prog -v`).
// Boost keeps parsing options after positionals, which would steal PROGRAM's own flags: split first.
std::size_t command_start(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return static_cast<std::size_t>(i);
    if (arg.empty() || arg[0] != '-') return static_cast<std::size_t>(i);
    const bool takes_value = arg == "--config" || arg == "-c" || arg == "--intent" || arg == "-i" ||
                             arg == "--log" || arg == "-l";
    if (takes_value) ++i;
  }
  return static_cast<std::size_t>(argc);
}

int usage_error(const std::string& what) {
  std::cerr << "dmm-run: " << what << "\nTry 'dmm-run --help'.\n";
  return kExitUsage;
}

std::string absolute(const std::string& path) {
  std::error_code ec;
  const auto abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description desc(
      "Usage: dmm-run [--config FILE] [--intent INTENT] [--log FILE] -- PROGRAM [ARGS...]\n\n"
      "Runs an unmodified PROGRAM with DMM: each new TCP/UDP session is carried by the stack instance the\n"
      "host config's policy chooses (libdmm_preload.so). The config is checked before PROGRAM starts.\n\n"
      "Options");
  Options opt;
  desc.add_options()
      ("help,h", "print this help and exit")
      ("config,c", po::value(&opt.config),
       "host config (dmm.yaml); default: $DMM_CONFIG, else /etc/dmm/dmm.yaml")
      ("intent,i", po::value(&opt.intent), "default intent of the program's sockets: default, latency, "
       "throughput, bulk (a socket may still set its own with SOL_DMM/DMM_INTENT)")
      ("log,l", po::value(&opt.log), "append one JSON line per session decision to FILE (overrides log.decisions)");

  const std::size_t split = command_start(argc, argv);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(static_cast<int>(split), argv).options(desc).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::cout << desc << "\nExit codes: 2 bad config or usage (before PROGRAM starts), 3 libdmm_preload.so not "
                           "found\nor dmm-stackd (which runs the config's lwip-dpdk instances) could not be started,\n127 PROGRAM not found, 126 PROGRAM not executable, else PROGRAM's own.\n";
      return 0;
    }
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  std::size_t first = split;
  if (first < static_cast<std::size_t>(argc) && std::string(argv[first]) == "--") ++first;
  for (std::size_t i = first; i < static_cast<std::size_t>(argc); ++i) opt.command.emplace_back(argv[i]);
  if (opt.command.empty()) return usage_error("no PROGRAM given (dmm-run [options] -- PROGRAM [ARGS...])");

  if (opt.config.empty()) {
    const char* env = std::getenv("DMM_CONFIG");
    opt.config = env && *env ? env : kDefaultConfig;
  }
  dmm::Result<dmm::host::HostConfig> config = dmm::host::load_host_config_file(opt.config);
  if (!config) {
    std::cerr << config.error().message << "\n";
    return kExitUsage;
  }
  if (dmm::Status host = dmm::host::check_host(*config); !host) {
    std::cerr << host.error().message << "\n";
    return kExitUsage;
  }
  if (!opt.intent.empty() && !dmm::parse_intent(opt.intent))
    return usage_error("--intent '" + opt.intent + "' is not one of default, latency, throughput, bulk");
  const std::string log = !opt.log.empty() ? absolute(opt.log) : config->log.decisions.value_or("");
  if (!log.empty()) {
    // The shim would only warn and go on without a log; the person who asked for one wants to know now.
    const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::cerr << "dmm-run: cannot open decision log " << log << ": " << std::strerror(errno) << "\n";
      return kExitUsage;
    }
    ::close(fd);
  }

  if (dmm::preload::needs_stack_service(*config)) {
    // The config's lwip-dpdk instances are dmm-stackd's: one answers, or one is started (it lives on while
    // programs use it, then ends by itself).
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    const std::string stackd = ec ? std::string("dmm-stackd") : (self.parent_path() / "dmm-stackd").string();
    if (dmm::Status up = dmm::preload::ensure_stack_service(*config, absolute(opt.config), stackd); !up) {
      std::cerr << "dmm-run: " << up.error().message << "\n";
      return kExitRuntime;
    }
  }

  const std::optional<std::string> library = dmm::preload::find_preload_library();
  if (!library) {
    std::cerr << "dmm-run: libdmm_preload.so not found next to " << argv[0]
              << " (looked in ../lib and the install libdir; DMM_PRELOAD_LIBRARY overrides)\n";
    return kExitRuntime;
  }
  setenv("LD_PRELOAD", dmm::preload::prepend_preload(*library, std::getenv("LD_PRELOAD")).c_str(), 1);
  setenv("DMM_CONFIG", absolute(opt.config).c_str(), 1);  // the program may chdir before its first socket
  if (!opt.intent.empty()) setenv("DMM_INTENT", opt.intent.c_str(), 1);
  if (!log.empty()) setenv("DMM_LOG", log.c_str(), 1);

  std::vector<char*> args;
  for (std::string& a : opt.command) args.push_back(a.data());
  args.push_back(nullptr);
  execvp(args[0], args.data());
  const int err = errno;
  std::cerr << "dmm-run: " << opt.command[0] << ": " << std::strerror(err) << "\n";
  return err == ENOENT ? kExitNotFound : kExitCannotRun;
}
