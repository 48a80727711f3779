#include "stack_service_start.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "dmm/service/stack_service_client.hpp"


namespace dmm::preload {
namespace {

// How long an idle daemon started by dmm-run stays (programs started one after another share it), and how long
// dmm-run waits for a fresh one (DPDK's EAL start and the ports' set-up take a fraction of a second).
constexpr const char* kIdleExit = "30s";
constexpr int kStartWaitMs = 10'000;

std::string log_tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  if (s.size() > 1500) s = "..." + s.substr(s.size() - 1500);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// A daemon accepts connections there. Only a connect, no hello: every program's start pays for this check, and a
// daemon too old to run user-space instances is named at the first session (EOPNOTSUPP, "protocol version 1").
bool answers(const std::string& socket) {
  sockaddr_un address{};
  if (socket.size() >= sizeof address.sun_path) return false;
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket.data(), socket.size());
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

// The daemon serves: it answers a hello, which it does only once its instances are up (its socket exists a moment
// earlier, and a daemon whose instance cannot start removes it again and exits).
bool serves(const std::string& socket) {
  auto client = service::StackServiceClient::connect(socket, std::chrono::milliseconds(500));
  return client && client->version() >= 2;
}

}  // namespace

bool needs_stack_service(const host::HostConfig& config) {
  if (!config.service) return false;
  for (const host::StackSpec& spec : config.stacks)
    if (spec.lwip_dpdk) return true;
  return false;
}

Status ensure_stack_service(const host::HostConfig& config, const std::string& config_path, const std::string& stackd) {
  const std::string& socket = config.service->socket;
  if (answers(socket)) return {};
  const std::string log = socket + ".log";
  // The previous daemon's log (why it stopped: idle, an edited config) stays readable next to the new one.
  (void)::rename(log.c_str(), (log + ".1").c_str());
  const pid_t child = ::fork();
  if (child < 0) return make_error(errno, std::string("cannot start dmm-stackd: fork: ") + std::strerror(errno));
  if (child == 0) {
    // Detached twice over: a session of its own, and reparented (the middle process exits at once).
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in >= 0) ::dup2(in, STDIN_FILENO);
    if (out >= 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
    }
    ::unsetenv("LD_PRELOAD");
    std::vector<std::string> args{stackd, "--config", config_path, "--idle-exit", kIdleExit};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(stackd.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  for (int waited = 0; waited < kStartWaitMs; waited += 20) {
    if (serves(socket)) return {};
    const timespec pause{0, 20'000'000};
    ::nanosleep(&pause, nullptr);
  }
  return make_error(EHOSTDOWN, "dmm-stackd did not start at " + socket + " (it runs the config's lwip-dpdk "
                                   "instances); its log, " + log + ":\n" + log_tail(log));
}

}  // namespace dmm::preload
