#include "service_harness.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>

#include "dmm/host/host_config.hpp"
#include "dmm/kernel/netns_socket_factory.hpp"

namespace dmm::test {

using kernel::UniqueFd;

// ---- TempDir ------------------------------------------------------------------------------------------------------

TempDir::TempDir() {
  // Short: socket paths live here, and sun_path holds 107 bytes.
  std::string pattern = "/tmp/dmms-XXXXXX";
  if (!::mkdtemp(pattern.data())) std::abort();
  // Traversable by the children that drop root (they connect to a socket in here).
  ::chmod(pattern.c_str(), 0755);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
  const std::string path = file(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// ---- DaemonThread -------------------------------------------------------------------------------------------------

Result<std::unique_ptr<DaemonThread>> DaemonThread::start(const std::string& config_path,
                                                          service::StackServiceOptions options) {
  auto config = host::load_host_config_file(config_path);
  if (!config) return config.error();
  std::unique_ptr<DaemonThread> t(new DaemonThread());
  auto executor = kernel::EpollExecutor::create();
  if (!executor) return executor.error();
  t->executor_ = std::move(*executor);
  t->log_stream_ = std::make_shared<std::ostringstream>();
  auto log = std::make_shared<spdlog::logger>("dmm-stackd-test",
                                              std::make_shared<spdlog::sinks::ostream_sink_st>(*t->log_stream_));
  log->set_level(spdlog::level::debug);
  log->set_pattern("%l %v");
  auto daemon = service::StackServiceDaemon::create(std::move(*config), *t->executor_, log, options);
  if (!daemon) return daemon.error();
  t->daemon_ = std::move(*daemon);
  t->socket_path_ = t->daemon_->socket_path();
  t->loop_ = std::thread([raw = t.get()] { [[maybe_unused]] Status s = raw->executor_->run(); });
  return t;
}

DaemonThread::~DaemonThread() {
  executor_->stop();
  if (loop_.joinable()) loop_.join();
  daemon_.reset();  // the loop is not running: any thread may
}

template <typename T>
T DaemonThread::on_loop(std::function<T()> fn) {
  std::promise<T> result;
  executor_->post([&] { result.set_value(fn()); });
  return result.get_future().get();
}

service::ServiceCounters DaemonThread::counters() {
  return on_loop<service::ServiceCounters>([this] { return daemon_->counters(); });
}

std::size_t DaemonThread::peers() {
  return on_loop<std::size_t>([this] { return daemon_->peers(); });
}

std::string DaemonThread::log_text() {
  return on_loop<std::string>([this] { return log_stream_->str(); });
}

// ---- EchoServer ---------------------------------------------------------------------------------------------------

Result<std::unique_ptr<EchoServer>> EchoServer::start(const std::string& netns, const std::string& address) {
  auto factory = kernel::NetnsSocketFactory::open(netns);
  if (!factory) return factory.error();
  auto fd = factory->socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (!fd) return fd.error();
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  ::inet_pton(AF_INET, address.c_str(), &sin.sin_addr);
  if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 || ::listen(fd->get(), 16) != 0)
    return make_error(errno, "echo server bind/listen on " + address + ": " + std::strerror(errno));
  socklen_t len = sizeof sin;
  ::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&sin), &len);
  std::unique_ptr<EchoServer> server(new EchoServer());
  server->listener_ = std::move(*fd);
  server->port_ = ntohs(sin.sin_port);
  server->thread_ = std::thread([raw = server.get()] { raw->serve(); });
  return server;
}

EchoServer::~EchoServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void EchoServer::serve() {
  while (!stop_) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) continue;
    char buffer[4096];
    for (;;) {
      pollfd c{conn.get(), POLLIN, 0};
      if (::poll(&c, 1, 2000) <= 0 || stop_) break;
      const ssize_t n = ::recv(conn.get(), buffer, sizeof buffer, 0);
      if (n <= 0 || ::send(conn.get(), buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
    }
  }
}

std::string echo_through(int fd, const std::string& address, std::uint16_t port, const std::string& text) {
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &sin.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0)
    return std::string("connect: ") + std::strerror(errno);
  if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size()))
    return std::string("send: ") + std::strerror(errno);
  std::string back(text.size(), '\0');
  std::size_t got = 0;
  while (got < back.size()) {
    const ssize_t n = ::recv(fd, back.data() + got, back.size() - got, 0);
    if (n <= 0) return std::string("recv: ") + (n == 0 ? "end of stream" : std::strerror(errno));
    got += static_cast<std::size_t>(n);
  }
  return back == text ? "ok" : "echo differs: " + back;
}

// ---- run_as -------------------------------------------------------------------------------------------------------

namespace {

std::string become(const AsUser& who) {
  if (!who.netns.empty()) {
    UniqueFd ns(::open(("/run/netns/" + who.netns).c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) return std::string("setns: ") + std::strerror(errno);
  }
  if (::setgroups(who.groups.size(), who.groups.data()) != 0) return std::string("setgroups: ") + std::strerror(errno);
  if (::setgid(who.gid) != 0) return std::string("setgid: ") + std::strerror(errno);
  if (::setuid(who.uid) != 0) return std::string("setuid: ") + std::strerror(errno);
  return {};
}

}  // namespace

std::string run_as(const AsUser& who, const std::function<std::string()>& fn, std::chrono::milliseconds timeout) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "child failed: pipe";
  const pid_t pid = ::fork();
  if (pid < 0) return "child failed: fork";
  if (pid == 0) {
    ::close(p[0]);
    std::string out;
    const std::string failed = become(who);
    out = failed.empty() ? fn() : "child failed: " + failed;
    [[maybe_unused]] const ssize_t n = ::write(p[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(p[1]);
  UniqueFd read_end(p[0]);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{read_end.get(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return "child failed: timed out; said so far: " + out;
    }
    char buffer[4096];
    const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "child failed: status " + std::to_string(status) + "; " + out;
  return out;
}

// ---- RawPeer ------------------------------------------------------------------------------------------------------

Result<RawPeer> RawPeer::connect(const std::string& socket_path) {
  RawPeer peer;
  peer.fd_ = UniqueFd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!peer.fd_) return make_error(errno, "socket");
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::strncpy(sun.sun_path, socket_path.c_str(), sizeof sun.sun_path - 1);
  if (::connect(peer.fd_.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0)
    return make_error(errno, "connect " + socket_path + ": " + std::strerror(errno));
  return peer;
}

Status RawPeer::send(std::string_view bytes, std::span<const int> fds) {
  return service::send_message(fd_.get(), bytes, fds, 0);
}

Status RawPeer::hello() {
  if (Status s = send(service::encode(service::Message{service::Hello{1, 1, "raw-peer"}})); !s) return s;
  auto welcome = receive();
  if (!welcome) return make_error(EPIPE, "no welcome");
  auto m = service::decode(welcome->bytes);
  if (!m || !std::holds_alternative<service::Welcome>(*m)) return make_error(EPROTO, "not a welcome");
  return {};
}

std::optional<service::Received> RawPeer::receive(std::chrono::milliseconds timeout) {
  pollfd p{fd_.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  auto got = service::receive_message(fd_.get(), service::kMaxMessage, service::kMaxSocketsPerRequest, MSG_DONTWAIT);
  // A reset (the daemon closed with our bytes unread) is reported once, before the daemon's last message.
  if (!got && got.error().code == ECONNRESET)
    got = service::receive_message(fd_.get(), service::kMaxMessage, service::kMaxSocketsPerRequest, MSG_DONTWAIT);
  if (!got || got->closed) return std::nullopt;
  return std::move(*got);
}

bool RawPeer::closed_by_daemon(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    auto got = service::receive_message(fd_.get(), service::kMaxMessage, service::kMaxSocketsPerRequest, MSG_DONTWAIT);
    if (!got) return got.error().code == ECONNRESET;
    if (got->closed) return true;
  }
}

std::optional<service::ErrorMessage> error_message_of(const service::Received& received) {
  auto m = service::decode(received.bytes);
  if (!m) return std::nullopt;
  if (const auto* e = std::get_if<service::ErrorMessage>(&*m)) return *e;
  return std::nullopt;
}

std::string tcp_request(const std::string& stack, std::uint32_t id, int count) {
  service::SocketsRequest r;
  r.id = id;
  r.stack = stack;
  r.domain = AF_INET;
  r.type = SOCK_STREAM;
  r.protocol = 0;
  r.count = static_cast<std::uint8_t>(count);
  return service::encode(service::Message{r});
}

int open_fd_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace dmm::test
