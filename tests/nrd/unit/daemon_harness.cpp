#include "daemon_harness.hpp"

#include <fcntl.h>
#include <sched.h>
#include <spdlog/sinks/null_sink.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <stdexcept>

#include "dmm/kernel/socket_address.hpp"

namespace dmm::test {

std::shared_ptr<spdlog::logger> quiet_logger() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

InsideNewNamespace::InsideNewNamespace() : home_(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {
  kernel::UniqueFd target(::open(("/run/netns/" + ns_.name()).c_str(), O_RDONLY | O_CLOEXEC));
  if (!home_ || !target || ::setns(target.get(), CLONE_NEWNET) != 0)
    throw std::runtime_error("cannot enter namespace " + ns_.name());
}

InsideNewNamespace::~InsideNewNamespace() { ::setns(home_.get(), CLONE_NEWNET); }

RawPeer RawPeer::unix_socket(const std::string& path) {
  RawPeer p;
  p.fd_ = kernel::UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  path.copy(sun.sun_path, sizeof sun.sun_path - 1);
  if (::connect(p.fd_.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0)
    throw std::runtime_error("raw peer: cannot connect to " + path);
  ::fcntl(p.fd_.get(), F_SETFL, O_NONBLOCK);
  return p;
}

RawPeer RawPeer::tcp(const Endpoint& endpoint) {
  RawPeer p;
  const kernel::SocketAddress sa = kernel::to_socket_address(endpoint);
  p.fd_ = kernel::UniqueFd(::socket(sa.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(p.fd_.get(), sa.get(), sa.length) != 0)
    throw std::runtime_error("raw peer: cannot connect to " + endpoint.to_string());
  ::fcntl(p.fd_.get(), F_SETFL, O_NONBLOCK);
  return p;
}

void RawPeer::send(std::string_view bytes) {
  if (::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size()))
    throw std::runtime_error("raw peer: short send");
}

void RawPeer::shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }

bool RawPeer::read_available() {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      received_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) closed_ = true;
    return closed_;
  }
}

std::vector<nrd::Message> RawPeer::messages() const {
  nrd::FrameReader reader(nrd::kHardMaxBody);
  reader.feed(received_);
  std::vector<nrd::Message> out;
  for (;;) {
    auto f = reader.next();
    if (!f.ok() || !*f) return out;
    auto m = nrd::decode(**f);
    if (!m.ok()) return out;
    out.push_back(std::move(*m));
  }
}

std::string hello_frame(bool subscribe, nrd::PeerRole role) {
  nrd::Hello h;
  h.role = role;
  h.name = "raw";
  h.subscribe = subscribe;
  h.stacks = {"a", "b"};
  return nrd::encode(h);
}

Policy host_policy() {
  Policy p;
  p.version = 1;
  p.rules.push_back(Rule{Match{}, {"a", "b"}});
  return p;
}

Policy reversed_policy() {
  Policy p = host_policy();
  p.rules[0].use = {"b", "a"};
  return p;
}

DaemonHarness::DaemonHarness() {
  auto loop = kernel::EpollExecutor::create();
  if (!loop) throw std::runtime_error(loop.error().message);
  loop_ = std::move(*loop);
}

DaemonHarness::~DaemonHarness() { daemon_.reset(); }

nrd::NrdDaemonConfig DaemonHarness::config(const std::string& extra) const {
  dir_.write("dmm.yaml",
             "stacks: [{name: a, kind: kernel}, {name: b, kind: kernel}]\n"
             "policy: [{match: {}, use: [a, b]}]\n");
  const std::string listen = extra.find("listen:") == std::string::npos ? "listen: {unix: nrd.sock}\n" : "";
  const std::string path = dir_.write("nrd.yaml", "host: dmm.yaml\n" + listen +
                                                  "algorithm: static\n"
                                                  "period: 50ms\n"
                                                  "state: state.json\n" + extra);
  auto c = nrd::load_nrd_config_file(path, ::getuid());
  if (!c) throw std::runtime_error(c.error().message);
  return std::move(*c);
}

nrd::NrdDaemon& DaemonHarness::start(const std::string& extra) { return start(config(extra)); }

nrd::NrdDaemon& DaemonHarness::start(nrd::NrdDaemonConfig config) {
  auto d = nrd::NrdDaemon::create(std::move(config), *loop_, quiet_logger());
  if (!d) throw std::runtime_error(d.error().message);
  daemon_ = std::move(*d);
  daemon_->start();
  return *daemon_;
}

bool DaemonHarness::spin(const std::function<bool()>& done, Duration timeout) { return loop_->run_until(done, timeout); }

void DaemonHarness::spin_for(Duration d) {
  bool over = false;
  loop_->schedule(d, [&] { over = true; });
  loop_->run_until([&] { return over; }, d + std::chrono::seconds(1));
}

DaemonHarness::Subscriber DaemonHarness::subscriber(const std::string& name, nrd::NrdClientConfig cfg,
                                                    const Policy& held) {
  Subscriber s;
  s.orchestrator = std::make_unique<Orchestrator>(std::vector<StackId>{"a", "b"}, held);
  cfg.address = nrd::NrdAddress::unix_socket(socket_path());
  cfg.name = name;
  cfg.subscribe = true;
  if (cfg.reconnect_min == nrd::NrdClientConfig{}.reconnect_min) cfg.reconnect_min = std::chrono::milliseconds(20);
  if (cfg.reconnect_max == nrd::NrdClientConfig{}.reconnect_max) cfg.reconnect_max = std::chrono::milliseconds(100);
  cfg.flush_interval = std::chrono::milliseconds(10);
  s.client = std::make_unique<nrd::NrdClient>(*loop_, cfg, s.orchestrator.get());
  s.client->start();
  return s;
}

std::unique_ptr<nrd::NrdClient> DaemonHarness::ctl(const std::string& name, bool watch) {
  nrd::NrdClientConfig cfg;
  cfg.address = nrd::NrdAddress::unix_socket(socket_path());
  cfg.role = nrd::PeerRole::ctl;
  cfg.name = name;
  cfg.subscribe = false;
  cfg.watch = watch;
  auto c = std::make_unique<nrd::NrdClient>(*loop_, cfg, nullptr);
  c->start();
  return c;
}

}  // namespace dmm::test
