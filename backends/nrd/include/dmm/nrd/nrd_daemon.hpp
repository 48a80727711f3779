#pragma once
// dmm-nrd's body: the core Nrd and PolicyAlgorithm (the same code as in simulation) on the kernel backend's
// EpollExecutor, fed by samples from orchestrators and by an ActiveProber through kernel stack instances, publishing
// over a SocketPolicyChannel to the peers of its Unix (and optional TCP) listeners; plus the state file, the
// per-period decision record, dmm-ctl's requests and the Prometheus endpoint. A library so that tests and the
// benchmark run the real daemon in-process; tools/dmm_nrd.cpp is only its command line.
//
// Hostile peers: every connection is bounded (message size, send queue, silence); a peer whose bytes are not the
// protocol, whose credentials are not allowed, or which does not read, is refused or dropped, counted by reason,
// and the daemon serves the others.
#include <spdlog/logger.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "dmm/active_prober.hpp"
#include "dmm/graveyard.hpp"
#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/kernel_stack.hpp"
#include "dmm/nrd.hpp"
#include "dmm/nrd/messages.hpp"
#include "dmm/nrd/metrics_http.hpp"
#include "dmm/nrd/nrd_config.hpp"
#include "dmm/nrd/policy_store.hpp"
#include "dmm/nrd/socket_policy_channel.hpp"
#include "dmm/nrd/socket_ops.hpp"

namespace dmm::nrd {

struct DaemonCounters {
  std::array<std::uint64_t, kLastMessageType + 1> messages_received{};  // by type, accepted ones
  std::map<std::string, std::uint64_t> messages_rejected;  // bad_magic, wrong_version, oversized, truncated,
                                                           // unknown_type, malformed, unexpected, not_allowed
  std::map<std::string, std::uint64_t> peers_rejected;     // uid_not_allowed, address_not_allowed, too_many_peers
  std::map<std::string, std::uint64_t> peers_dropped;      // slow_subscriber, silent, protocol_error
  std::uint64_t peers_accepted = 0;
  std::map<std::string, std::uint64_t> samples;            // by source: orchestrator, probe
  std::uint64_t samples_unknown_stack = 0;
  std::uint64_t pushes_accepted = 0;
  std::uint64_t pushes_rejected = 0;
  std::uint64_t state_write_failures = 0;
  std::uint64_t record_write_failures = 0;
};

class NrdDaemon {
public:
  // Everything that can fail at start does so here, naming the file or address: the state file (EINVAL if it is
  // not a policy), the listeners (EADDRINUSE if another daemon answers on the socket), the probed stacks'
  // namespaces, the metrics port, the record file. Nothing runs before start().
  static Result<std::unique_ptr<NrdDaemon>> create(NrdDaemonConfig config, kernel::EpollExecutor& executor,
                                                   std::shared_ptr<spdlog::logger> log);
  ~NrdDaemon();  // closes every connection and removes the socket file
  NrdDaemon(const NrdDaemon&) = delete;
  NrdDaemon& operator=(const NrdDaemon&) = delete;

  void start();  // nRD periods, probes, heartbeats

  Nrd& nrd() { return *nrd_; }
  const Nrd& nrd() const { return *nrd_; }
  const DaemonCounters& counters() const { return counters_; }
  std::size_t peers() const { return peers_.size(); }
  std::size_t subscribers() const { return channel_->subscribers(); }
  std::optional<Endpoint> tcp_endpoint() const { return tcp_endpoint_; }   // bound (port 0 resolved)
  std::optional<Endpoint> metrics_endpoint() const;
  const NrdDaemonConfig& config() const { return config_; }

  // What dmm-ctl status shows, and what /metrics serves.
  nlohmann::json status_json() const;
  std::string metrics_text() const;

private:
  class Peer;
  friend class Peer;

  NrdDaemon(NrdDaemonConfig config, kernel::EpollExecutor& executor, std::shared_ptr<spdlog::logger> log);
  Status open(const Policy& initial);
  Result<Policy> initial_policy();
  Status open_probes();
  void accept_from(int listener, bool unix_socket);
  // Whether a new connection may stay: its credentials (Unix) or address (TCP), and the peer limit. `who` names it.
  bool admit(int fd, bool unix_socket, std::string& reason, std::string& who,
             std::optional<PeerCredentials>& credentials);
  void on_message(Peer& peer, Message& message);
  void on_hello(Peer& peer, Hello& hello);
  void on_push(Peer& peer, PushPolicy& push);
  void resume_above(Peer& peer);
  void reject(Peer& peer, const std::string& reason, const std::string& message);
  void drop(PeerId id, const std::string& reason, const std::string& detail);
  void heartbeat();
  void on_period(TimePoint now, const StackEstimates& estimates);
  void on_publish(const Policy& policy);
  nlohmann::json decision_json(TimePoint now, const StackEstimates& estimates) const;
  nlohmann::json estimates_json(const StackEstimates& estimates, TimePoint now) const;

  NrdDaemonConfig config_;
  kernel::EpollExecutor& executor_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<SocketPolicyChannel> channel_;
  std::unique_ptr<Nrd> nrd_;
  std::optional<PolicyStore> store_;
  std::vector<std::unique_ptr<kernel::KernelStack>> probe_stacks_;
  std::unique_ptr<PathSampleSink> probe_sink_;
  std::unique_ptr<ActiveProber> prober_;
  kernel::UniqueFd unix_listener_;
  ino_t unix_socket_inode_ = 0;  // of the socket file we made: removed at exit only if it is still that one
  kernel::UniqueFd tcp_listener_;
  std::optional<Endpoint> tcp_endpoint_;
  std::unique_ptr<MetricsHttpServer> metrics_;
  kernel::UniqueFd record_fd_;
  std::map<PeerId, std::unique_ptr<Peer>> peers_;
  PeerId next_peer_ = 1;
  TimerId heartbeat_timer_ = 0;
  std::uint64_t periods_ = 0;
  bool published_this_period_ = false;
  DaemonCounters counters_;
  Graveyard<Peer> graveyard_;  // peers die inside their own callbacks; last member, so it empties first
};

}  // namespace dmm::nrd
