// The daemon's life cycle: opening (state, listeners, probes, metrics, record), admitting peers, heartbeats and
// silence, nRD periods and publications. What peers say is handled in daemon_messages.cpp; what the daemon shows
// (status, metrics) in daemon_status.cpp.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "daemon_peer.hpp"
#include "dmm/kernel/kernel_stack_config.hpp"
#include "dmm/kernel/socket_address.hpp"
#include "dmm/kernel/sys_error.hpp"
#include "dmm/nrd/nrd_daemon.hpp"
#include "dmm/nrd/socket_ops.hpp"
#include "dmm/policy_json.hpp"

namespace dmm::nrd {
namespace {

using kernel::UniqueFd;

// Probe samples reach nRD through this, so the daemon can count them apart from the orchestrators'.
class CountingSink final : public PathSampleSink {
public:
  CountingSink(PathSampleSink& next, std::uint64_t& count) : next_(next), count_(count) {}
  void on_sample(const PathSample& sample) override {
    ++count_;
    next_.on_sample(sample);
  }

private:
  PathSampleSink& next_;
  std::uint64_t& count_;
};

// A refused peer's only message, written without waiting: it gets no more of the daemon's time than that.
void refuse(int fd, const std::string& reason, const std::string& message) {
  const std::string frame = encode(ErrorMessage{reason, message});
  [[maybe_unused]] const ssize_t n = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

std::string credentials_text(const PeerCredentials& c) {
  return "pid=" + std::to_string(c.pid) + " uid=" + std::to_string(c.uid) + " gid=" + std::to_string(c.gid);
}

}  // namespace

NrdDaemon::NrdDaemon(NrdDaemonConfig config, kernel::EpollExecutor& executor, std::shared_ptr<spdlog::logger> log)
    : config_(std::move(config)), executor_(executor), log_(std::move(log)), graveyard_(executor) {}

NrdDaemon::~NrdDaemon() {
  executor_.cancel(heartbeat_timer_);
  if (prober_) prober_->stop();
  if (nrd_) nrd_->stop();
  peers_.clear();
  graveyard_.clear();
  for (const UniqueFd* fd : {&unix_listener_, &tcp_listener_})
    if (*fd) executor_.unwatch(fd->get());
  if (unix_listener_) {
    // Remove the socket file only if it is still ours (not a successor's that replaced it).
    struct stat by_path {}, by_fd {};
    if (::stat(config_.listen.unix_path.c_str(), &by_path) == 0 && ::fstat(unix_listener_.get(), &by_fd) == 0 &&
        by_path.st_ino == unix_socket_inode_)
      ::unlink(config_.listen.unix_path.c_str());
  }
}

Result<std::unique_ptr<NrdDaemon>> NrdDaemon::create(NrdDaemonConfig config, kernel::EpollExecutor& executor,
                                                     std::shared_ptr<spdlog::logger> log) {
  std::unique_ptr<NrdDaemon> daemon(new NrdDaemon(std::move(config), executor, std::move(log)));
  auto initial = daemon->initial_policy();
  if (!initial) return initial.error();
  if (Status s = daemon->open(*initial); !s) return s.error();
  return daemon;
}

Result<Policy> NrdDaemon::initial_policy() {
  Policy from_host = config_.host.policy;
  if (!config_.state) return from_host;
  store_.emplace(*config_.state);
  auto saved = store_->load();
  if (!saved) return saved.error();
  if (!*saved) return from_host;
  Policy policy = std::move(**saved);
  if (Status valid = validate(policy, config_.host.stack_names()); !valid) {
    // The host's stacks changed since: start again from the host config, but above the saved version, so that
    // subscribers (which ignore versions not newer than theirs) take it.
    log_->warn("event=state_not_usable file={} version={} problem=\"{}\" action=host_policy", store_->path(),
               policy.version, valid.error().message);
    from_host.version = policy.version + 1;
    from_host.reason = "host config (the saved policy names stacks the host no longer has)";
    return from_host;
  }
  log_->info("event=state_loaded file={} version={}", store_->path(), policy.version);
  return policy;
}

Status NrdDaemon::open(const Policy& initial) {
  auto algorithm = AlgorithmRegistry::with_builtins().create(config_.algorithm, config_.params);
  if (!algorithm) return algorithm.error();
  auto in_force = std::make_shared<const Policy>(initial);
  channel_ = std::make_unique<SocketPolicyChannel>(in_force);
  channel_->on_overflow = [this](PeerId id, const Error& why) { drop(id, "slow_subscriber", why.message); };
  nrd_ = std::make_unique<Nrd>(executor_, config_.host.stack_names(), std::move(algorithm).value(), config_.nrd,
                               *channel_, initial);
  nrd_->on_period = [this](TimePoint now, const StackEstimates& e) { on_period(now, e); };
  nrd_->on_publish = [this](const Policy& p) { on_publish(p); };

  if (Status s = open_probes(); !s) return s;

  auto unix_fd = listen_on(NrdAddress::unix_socket(config_.listen.unix_path), config_.listen.unix_mode);
  if (!unix_fd) return unix_fd.error();
  unix_listener_ = std::move(*unix_fd);
  struct stat st {};
  if (::stat(config_.listen.unix_path.c_str(), &st) == 0) unix_socket_inode_ = st.st_ino;
  const int ul = unix_listener_.get();
  if (Status s = executor_.watch(ul, EPOLLIN, [this, ul](std::uint32_t) { accept_from(ul, true); }); !s) return s;

  if (config_.listen.tcp) {
    auto tcp_fd = listen_on(NrdAddress::tcp_endpoint(*config_.listen.tcp), 0);
    if (!tcp_fd) return tcp_fd.error();
    tcp_listener_ = std::move(*tcp_fd);
    auto bound = bound_endpoint(tcp_listener_.get());
    if (!bound) return bound.error();
    tcp_endpoint_ = *bound;
    const int tl = tcp_listener_.get();
    if (Status s = executor_.watch(tl, EPOLLIN, [this, tl](std::uint32_t) { accept_from(tl, false); }); !s) return s;
  }
  if (config_.metrics) {
    auto server = MetricsHttpServer::create(*config_.metrics, executor_, [this] { return metrics_text(); });
    if (!server) return make_error(server.error().code, "metrics " + config_.metrics->to_string() + ": " + server.error().message);
    metrics_ = std::move(*server);
  }
  if (config_.record) {
    record_fd_ = UniqueFd(::open(config_.record->c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!record_fd_) return kernel::last_sys_error("open record " + *config_.record);
  }
  return {};
}

Status NrdDaemon::open_probes() {
  if (config_.probes.targets.empty()) return {};
  std::vector<ProbeTarget> targets;
  for (const ProbeTargetSpec& t : config_.probes.targets) {
    auto existing = std::find_if(probe_stacks_.begin(), probe_stacks_.end(),
                                 [&](const auto& s) { return s->info().id == t.stack; });
    if (existing == probe_stacks_.end()) {
      const host::StackSpec* spec = config_.host.find_stack(t.stack);
      auto cfg = kernel::parse_kernel_stack_config(host::to_stack_config(*spec));
      if (!cfg) return cfg.error();
      auto stack = kernel::KernelStack::create(*cfg, executor_);
      if (!stack) return make_error(stack.error().code, "probe stack '" + t.stack + "': " + stack.error().message);
      probe_stacks_.push_back(std::move(*stack));
      existing = probe_stacks_.end() - 1;
    }
    targets.push_back({existing->get(), t.to, t.kind});
  }
  probe_sink_ = std::make_unique<CountingSink>(*nrd_, counters_.samples["probe"]);
  ProberConfig pc;
  pc.interval = config_.probes.interval;
  pc.timeout = config_.probes.timeout;
  pc.payload = config_.probes.payload;
  prober_ = std::make_unique<ActiveProber>(executor_, std::move(targets), *probe_sink_, pc);
  return {};
}

void NrdDaemon::start() {
  nrd_->start();
  if (prober_) prober_->start();
  heartbeat_timer_ = executor_.schedule(config_.limits.heartbeat, [this] { heartbeat(); });
  log_->info("event=started socket={} tcp={} metrics={} algorithm={} period={} version={} stacks={} probes={}",
             config_.listen.unix_path, tcp_endpoint_ ? tcp_endpoint_->to_string() : "-",
             metrics_ ? metrics_->endpoint().to_string() : "-", config_.algorithm, format_duration(config_.nrd.period),
             nrd_->current().version, config_.host.stacks.size(), config_.probes.targets.size());
}

std::optional<Endpoint> NrdDaemon::metrics_endpoint() const {
  if (!metrics_) return std::nullopt;
  return metrics_->endpoint();
}

bool NrdDaemon::admit(int fd, bool unix_socket, std::string& reason, std::string& who,
                      std::optional<PeerCredentials>& credentials) {
  if (unix_socket) {
    auto cred = peer_credentials(fd);
    if (!cred) {
      who = "unix";
      reason = "credentials_unknown";
      return false;
    }
    credentials = *cred;
    who = "unix " + credentials_text(*cred);
    const auto& uids = config_.listen.allow_uids;
    const auto& gids = config_.listen.allow_gids;
    if (std::find(uids.begin(), uids.end(), cred->uid) == uids.end() &&
        std::find(gids.begin(), gids.end(), cred->gid) == gids.end()) {
      reason = "uid_not_allowed";
      return false;
    }
  } else {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    std::optional<Endpoint> remote;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
      if (auto e = kernel::to_endpoint(reinterpret_cast<sockaddr*>(&ss), len)) remote = *e;
    who = "tcp " + (remote ? remote->to_string() : std::string("?"));
    const auto& allow = config_.listen.tcp_allow;
    if (!remote || (!allow.empty() && std::none_of(allow.begin(), allow.end(),
                                                   [&](const IpPrefix& p) { return p.contains(remote->address); }))) {
      reason = "address_not_allowed";
      return false;
    }
  }
  if (peers_.size() >= config_.limits.max_peers) {
    reason = "too_many_peers";
    return false;
  }
  return true;
}

void NrdDaemon::accept_from(int listener, bool unix_socket) {
  // A bounded batch per readiness event: a connection flood must not starve the peers already in.
  for (int i = 0; i < 64; ++i) {
    UniqueFd fd(::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        log_->error("event=accept_failed error=\"{}\"", std::strerror(errno));
      return;
    }
    std::string reason, who;
    std::optional<PeerCredentials> credentials;
    if (!admit(fd.get(), unix_socket, reason, who, credentials)) {
      ++counters_.peers_rejected[reason];
      log_->warn("event=peer_rejected peer=\"{}\" reason={}", who, reason);
      refuse(fd.get(), reason, "dmm-nrd refused the connection: " + reason);
      continue;
    }
    if (!unix_socket) {
      const int one = 1;
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    const PeerId id = next_peer_++;
    auto peer = std::make_unique<Peer>(*this, id, unix_socket, who, credentials, executor_.now());
    FramedConnection::Limits limits;
    limits.max_body = config_.limits.max_message;
    limits.max_queued_bytes = config_.limits.send_queue;
    auto connection = FramedConnection::create(std::move(fd), false, executor_, *peer, limits);
    if (!connection) {
      log_->error("event=accept_failed peer=\"{}\" error=\"{}\"", who, connection.error().message);
      continue;
    }
    peer->connection = std::move(*connection);
    ++counters_.peers_accepted;
    log_->debug("event=peer_connected id={} peer=\"{}\"", id, who);
    peers_.emplace(id, std::move(peer));
  }
}

void NrdDaemon::drop(PeerId id, const std::string& reason, const std::string& detail) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  std::unique_ptr<Peer> peer = std::move(it->second);
  peers_.erase(it);
  channel_->unsubscribe(id);
  if (!reason.empty()) {
    ++counters_.peers_dropped[reason];
    log_->warn("event=peer_dropped id={} peer=\"{}\" reason={} detail=\"{}\"", id, peer->who, reason, detail);
  } else {
    log_->debug("event=peer_left id={} peer=\"{}\" detail=\"{}\"", id, peer->who, detail);
  }
  if (peer->connection) peer->connection->close();
  graveyard_.bury(std::move(peer));  // we may be inside its callback
}

void NrdDaemon::reject(Peer& peer, const std::string& reason, const std::string& message) {
  ++counters_.messages_rejected[reason];
  log_->warn("event=message_rejected id={} peer=\"{}\" reason={} detail=\"{}\"", peer.id, peer.who, reason, message);
  if (peer.connection) peer.connection->close_with(encode(ErrorMessage{reason, message}));
  drop(peer.id, "", "rejected: " + reason);
}

void NrdDaemon::heartbeat() {
  heartbeat_timer_ = executor_.schedule(config_.limits.heartbeat, [this] { heartbeat(); });
  const TimePoint now = executor_.now();
  // nRD's RTT estimates ride on the heartbeat: orchestrators' `attempt_delay: auto` reads them (at most one
  // heartbeat old; a stack whose estimate expired is left out, so the orchestrator forgets it too).
  Heartbeat beat{nrd_->current().version, 0, 0, {}};
  for (const StackEstimate& e : nrd_->estimates())
    if (e.has_rtt) beat.rtt.emplace_back(e.stack, e.rtt);
  const std::string frame = encode(beat);
  std::vector<std::pair<PeerId, std::string>> gone;
  for (auto& [id, peer] : peers_) {
    if (now - peer->last_heard > config_.limits.peer_timeout) {
      gone.emplace_back(id, "silent");
    } else if (peer->hello && !peer->connection->send(frame)) {
      gone.emplace_back(id, peer->subscribed ? "slow_subscriber" : "slow_peer");
    }
  }
  for (const auto& [id, reason] : gone) drop(id, reason, reason == "silent" ? "nothing heard for " + format_duration(config_.limits.peer_timeout) : "its send queue is full");
}

void NrdDaemon::on_publish(const Policy& policy) {
  published_this_period_ = true;
  log_->info("event=policy_published version={} reason=\"{}\" subscribers={} rules={} down={}", policy.version,
             policy.reason, channel_->subscribers(), policy.rules.size(), policy.down.size());
  if (!store_) return;
  if (Status saved = store_->save(policy); !saved) {
    ++counters_.state_write_failures;
    log_->error("event=state_write_failed file={} error=\"{}\"", store_->path(), saved.error().message);
  }
}

void NrdDaemon::on_period(TimePoint now, const StackEstimates& estimates) {
  ++periods_;
  const nlohmann::json decision = decision_json(now, estimates);
  published_this_period_ = false;
  if (record_fd_) {
    const std::string line = decision.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    if (::write(record_fd_.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
      ++counters_.record_write_failures;
  }
  std::string frame;
  std::vector<PeerId> slow;
  for (auto& [id, peer] : peers_) {
    if (!peer->watching) continue;
    if (frame.empty()) frame = encode(DecisionMessage{decision});
    if (!peer->connection->send(frame)) slow.push_back(id);
  }
  for (PeerId id : slow) drop(id, "slow_peer", "its send queue is full");
}

}  // namespace dmm::nrd
