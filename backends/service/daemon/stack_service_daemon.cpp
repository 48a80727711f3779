// dmm-stackd's life cycle: opening the namespaces and the socket, admitting connections, closing them. What peers
// say is handled in daemon_requests.cpp.
#include "dmm/service/stack_service_daemon.hpp"

#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>

#include "config_reload.hpp"
#include "daemon_peer.hpp"
#include "user_stack_host.hpp"
#include "dmm/host/kernel_instance.hpp"
#include "dmm/service/seqpacket.hpp"
#include "dmm/units.hpp"

namespace dmm::service {
namespace {

using kernel::UniqueFd;

// A refused connection's only message, written without waiting: it gets no more of the daemon's time than that.
void refuse(int fd, int code, const std::string& reason, const std::string& message) {
  [[maybe_unused]] const Status sent = send_message(fd, encode(ErrorMessage{code, reason, message}), {}, MSG_DONTWAIT);
}

}  // namespace

StackServiceDaemon::StackServiceDaemon(host::HostConfig config, kernel::EpollExecutor& executor,
                                       std::shared_ptr<spdlog::logger> log, StackServiceOptions options)
    : config_(std::move(config)), executor_(executor), log_(std::move(log)), options_(options) {}

StackServiceDaemon::~StackServiceDaemon() {
  if (config_timer_ != 0) executor_.cancel(config_timer_);
  for (auto& [id, peer] : peers_) {
    executor_.cancel(peer->hello_timer);
    executor_.unwatch(peer->fd.get());
  }
  peers_.clear();
  user_.reset();
  if (listener_.fd) {
    executor_.unwatch(listener_.fd.get());
    remove_socket_file(config_.service->socket, listener_);
  }
}

Result<std::unique_ptr<StackServiceDaemon>> StackServiceDaemon::create(host::HostConfig config,
                                                                       kernel::EpollExecutor& executor,
                                                                       std::shared_ptr<spdlog::logger> log,
                                                                       StackServiceOptions options) {
  if (!config.service)
    return make_error(EINVAL, config.file + ":1:1: no `service:` section: dmm-stackd needs "
                                            "`service: {socket: PATH}` to know where to listen");
  std::unique_ptr<StackServiceDaemon> daemon(
      new StackServiceDaemon(std::move(config), executor, std::move(log), options));
  if (Status s = daemon->open(); !s) return s.error();
  return daemon;
}

std::vector<StackId> StackServiceDaemon::served_stacks() const {
  std::vector<StackId> names;
  for (const host::StackSpec& spec : config_.stacks)
    if (instances_.contains(spec.name) || (user_ && user_->serves(spec.name))) names.push_back(spec.name);
  return names;
}

std::size_t StackServiceDaemon::live_sessions() const {
  return user_ ? user_->live_sessions() + user_->listeners() : 0;
}

Status StackServiceDaemon::open() {
  // Every namespace now, before the socket exists: a daemon that started is one that can serve every stack it
  // names, and a namespace it holds open lives on even if its /run/netns file is removed.
  for (const host::StackSpec& spec : config_.stacks) {
    if (!spec.kernel || !spec.kernel->netns) continue;
    auto sockets = kernel::InstanceSockets::open(host::kernel_stack_config(spec));
    if (!sockets) return sockets.error();
    instances_.emplace(spec.name, std::move(*sockets));
  }
  auto listener = listen_seqpacket(config_.service->socket, config_.service->mode);
  if (!listener) return listener.error();
  listener_ = std::move(*listener);
  // The user-space instances after the socket: a second daemon must stop at a live one's socket before it
  // touches an interface that the first one's instances own.
  // Each owns its port from now on, for every program on the host.
  auto user = UserStackHost::create(config_, executor_, log_, options_.load_user_kinds);
  if (!user) return user.error();
  user_ = std::move(*user);
  if (Status s = executor_.watch(listener_.fd.get(), EPOLLIN, [this](std::uint32_t) { accept_all(); }); !s) return s;
  std::string served;
  for (const StackId& name : served_stacks()) served += (served.empty() ? "" : ",") + name;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(config_.service->mode));
  log_->info("event=started socket={} mode={} stacks={} max_peers={} protocol={}..{}", config_.service->socket, mode,
             served.empty() ? "-" : served, config_.service->max_peers, kLowestVersion, kHighestVersion);
  return {};
}

Result<std::vector<std::string>> StackServiceDaemon::reload(host::HostConfig next) {
  ConfigMerge merge = merge_for_running_daemon(config_, std::move(next));
  // Kernel instances: those whose namespace is unchanged stay open; new ones open now, all or nothing.
  std::map<std::string, kernel::InstanceSockets, std::less<>> instances;
  for (const host::StackSpec& spec : merge.config.stacks) {
    if (!spec.kernel || !spec.kernel->netns) continue;
    const host::StackSpec* before = config_.find_stack(spec.name);
    const auto open = instances_.find(spec.name);
    if (open != instances_.end() && before && before->kernel && before->kernel->netns == spec.kernel->netns) {
      instances.emplace(spec.name, std::move(open->second));
      instances_.erase(open);
      continue;
    }
    auto sockets = kernel::InstanceSockets::open(host::kernel_stack_config(spec));
    if (!sockets) {
      for (auto& [name, kept] : instances) instances_.emplace(name, std::move(kept));  // as they were
      return sockets.error();
    }
    instances.emplace(spec.name, std::move(*sockets));
  }
  instances_ = std::move(instances);
  config_ = std::move(merge.config);
  return merge.not_applied;
}

std::optional<StackServiceDaemon::FileStamp> StackServiceDaemon::stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{st.st_dev, st.st_ino, st.st_size,
                   static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

void StackServiceDaemon::watch_config(Duration every,
                                      std::function<void(const std::vector<std::string>&)> needs_restart) {
  config_every_ = every;
  needs_restart_ = std::move(needs_restart);
  config_stamp_ = stamp_of(config_.file);
  config_timer_ = executor_.schedule(every, [this] { check_config_file(); });
}

void StackServiceDaemon::check_config_file() {
  config_timer_ = executor_.schedule(config_every_, [this] { check_config_file(); });
  const std::optional<FileStamp> now = stamp_of(config_.file);
  if (!now || now == config_stamp_) return;  // unchanged, or gone for a moment (an editor's rename)
  config_stamp_ = now;
  auto next = host::load_host_config_file(config_.file);
  if (!next) {
    log_->error("event=config_invalid error=\"{}\" serving=\"the config as it was\"", next.error().message);
    return;
  }
  auto not_applied = reload(std::move(*next));
  if (!not_applied) {
    log_->error("event=config_not_applied error=\"{}\" serving=\"the config as it was\"",
                not_applied.error().message);
    return;
  }
  std::string waiting;
  for (const std::string& name : *not_applied) waiting += (waiting.empty() ? "" : ",") + name;
  log_->info("event=config_reloaded file={} waits_for_restart={}", config_.file, waiting.empty() ? "-" : waiting);
  if (!not_applied->empty() && needs_restart_) needs_restart_(*not_applied);
}

void StackServiceDaemon::accept_all() {
  // A bounded batch per readiness event: a connection flood must not starve the peers already in.
  for (int i = 0; i < 64; ++i) {
    UniqueFd fd(::accept4(listener_.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        log_->error("event=accept_failed error=\"{}\"", std::strerror(errno));
      return;
    }
    auto identity = peer_identity(fd.get());
    if (!identity) {
      ++counters_.peers_rejected["credentials_unknown"];
      log_->warn("event=peer_rejected reason=credentials_unknown error=\"{}\"", identity.error().message);
      refuse(fd.get(), EACCES, "credentials_unknown", "dmm-stackd cannot tell who you are: " + identity.error().message);
      continue;
    }
    if (peers_.size() >= config_.service->max_peers) {
      ++counters_.peers_rejected["too_many_peers"];
      log_->warn("event=peer_rejected peer=\"{}\" reason=too_many_peers max_peers={}", identity->describe(),
                 config_.service->max_peers);
      refuse(fd.get(), ECONNREFUSED, "too_many_peers",
             "dmm-stackd serves " + std::to_string(config_.service->max_peers) + " connections at most");
      continue;
    }
    auto peer = std::make_unique<Peer>();
    const PeerId id = next_peer_++;
    peer->id = id;
    peer->identity = std::move(*identity);
    peer->who = peer->identity.describe();
    const int raw = fd.get();
    peer->fd = std::move(fd);
    if (Status s = executor_.watch(raw, EPOLLIN, [this, id](std::uint32_t) { on_readable(id); }); !s) {
      log_->error("event=accept_failed peer=\"{}\" error=\"{}\"", peer->who, s.error().message);
      continue;
    }
    peer->hello_timer = executor_.schedule(options_.hello_timeout, [this, id] {
      const auto it = peers_.find(id);
      if (it == peers_.end()) return;
      it->second->hello_timer = 0;
      if (it->second->welcomed) return;
      const std::string why = "no hello within " + format_duration(options_.hello_timeout) + " of connecting";
      refuse(it->second->fd.get(), ETIMEDOUT, "no_hello", why);
      drop(id, "no_hello", why);
    });
    ++counters_.peers_accepted;
    log_->debug("event=peer_connected id={} peer=\"{}\"", id, peer->who);
    peers_.emplace(id, std::move(peer));
  }
}

void StackServiceDaemon::drop(PeerId id, const std::string& reason, const std::string& detail) {
  const auto it = peers_.find(id);
  if (it == peers_.end()) return;
  std::unique_ptr<Peer> peer = std::move(it->second);
  peers_.erase(it);
  executor_.cancel(peer->hello_timer);
  // No callback of this fd runs after this (the executor keeps the running one alive until it returns).
  executor_.unwatch(peer->fd.get());
  if (!reason.empty()) {
    ++counters_.peers_dropped[reason];
    log_->warn("event=peer_dropped id={} peer=\"{}\" reason={} detail=\"{}\"", id, peer->who, reason, detail);
  } else {
    log_->debug("event=peer_left id={} peer=\"{}\" requests={} detail=\"{}\"", id, peer->who, peer->requests, detail);
  }
}  // the connection closes with `peer`

void StackServiceDaemon::reject(Peer& peer, const std::string& reason, int code, const std::string& message) {
  ++counters_.messages_rejected[reason];
  log_->warn("event=message_rejected id={} peer=\"{}\" reason={} detail=\"{}\"", peer.id, peer.who, reason, message);
  refuse(peer.fd.get(), code, reason, message);
  drop(peer.id, "protocol_error", reason);
}

}  // namespace dmm::service
