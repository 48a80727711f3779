#pragma once
// An orchestrator's end of the sync protocol: connects to dmm-nrd, says hello, applies every policy version it
// receives to its Orchestrator (in order; older ones are ignored, the orchestrator counts them), reports path
// samples in batches, exchanges heartbeats, and when the daemon goes away (closed, silent, refusing) keeps
// reconnecting with jittered exponential back-off while the orchestrator goes on serving its last policy.
// Used inside the preload shim (on its subscription thread), by tools (dmm-ctl, dmm-nrd-bench) and tests.
//
// Threads: an actor on one EpollExecutor; every method and hook belongs to that executor's thread.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/nrd/framed_connection.hpp"
#include "dmm/nrd/messages.hpp"
#include "dmm/nrd/nrd_address.hpp"
#include "dmm/orchestrator.hpp"
#include "dmm/path_sample.hpp"

namespace dmm::nrd {

struct NrdClientConfig {
  NrdAddress address;
  PeerRole role = PeerRole::orchestrator;
  std::string name;                  // for the daemon's status and logs
  std::uint32_t pid = 0;
  bool subscribe = true;             // receive policies
  bool watch = false;                // receive one decision message per nRD period
  Duration reconnect_min = std::chrono::milliseconds(100);
  Duration reconnect_max = std::chrono::seconds(2);
  std::uint32_t jitter_seed = 1;     // spreads reconnects of many clients after a daemon restart
  Duration heartbeat = std::chrono::seconds(1);
  // Nothing heard from the daemon for this long (it sends heartbeats): it is hung or its host is gone, even if
  // the socket says nothing. At least 3 of the daemon's heartbeat intervals (from its welcome).
  Duration silence_timeout = std::chrono::seconds(5);
  Duration flush_interval = std::chrono::milliseconds(100);  // samples are sent in batches this often
  std::size_t max_pending_samples = 8192;  // while disconnected; the oldest are dropped beyond this
  std::size_t samples_per_message = 1024;
  FramedConnection::Limits limits;
};

struct NrdClientCounters {
  std::uint64_t connects = 0;          // welcomes received
  std::uint64_t connect_failures = 0;  // attempts that never got a welcome
  std::uint64_t disconnects = 0;       // welcomed connections lost
  std::uint64_t policies_received = 0;
  std::uint64_t applied = 0;           // installed in the orchestrator
  std::uint64_t stale = 0;             // not newer than what the orchestrator holds (ignored)
  std::uint64_t invalid = 0;           // refused by the orchestrator (e.g. names a stack it does not have)
  std::uint64_t samples_sent = 0;
  std::uint64_t samples_dropped = 0;   // over max_pending_samples while the daemon was away
  std::uint64_t errors_received = 0;   // error messages from the daemon
  std::uint64_t protocol_errors = 0;   // bytes from the daemon that were not the protocol
};

class NrdClient final : public PathSampleSink, private FramedConnection::Events {
public:
  // `orchestrator` may be null (dmm-ctl watch): policies then only reach on_policy.
  NrdClient(kernel::EpollExecutor& executor, NrdClientConfig config, Orchestrator* orchestrator);
  ~NrdClient() override;
  NrdClient(const NrdClient&) = delete;
  NrdClient& operator=(const NrdClient&) = delete;

  void start();  // connects now, and again after every loss until stop()
  void stop();   // closes; queued samples stay queued
  // Sends the queued samples now rather than at the next batch (a program about to exit). False when not
  // welcomed (they stay queued).
  bool flush_now();

  // Queues a sample for the next batch (PathSampleSink: a probe or nSocket may report here directly).
  void on_sample(const PathSample& sample) override;
  // Sends a request (status_request, push_policy, ...) while welcomed; ENOTCONN otherwise.
  Status send(const Message& message);

  bool welcomed() const { return welcomed_; }
  PolicyVersion version() const;        // what this side holds
  PolicyVersion daemon_version() const { return daemon_version_; }
  const NrdClientCounters& counters() const { return counters_; }
  std::size_t pending_samples() const { return pending_.size(); }
  std::size_t queued_bytes() const { return connection_ ? connection_->queued_bytes() : 0; }  // not yet written
  const std::string& last_problem() const { return last_problem_; }  // why the last connection ended
  int connection_fd() const { return connection_ ? connection_->fd() : -1; }  // -1 between connections

  // Hooks, on the executor's thread.
  std::function<void(const Policy&, const Status& applied)> on_policy;  // every policy received, and apply()'s say
  std::function<void(const nlohmann::json&)> on_decision;
  std::function<void(bool welcomed)> on_link;          // true: welcomed; false: the connection was lost
  std::function<void(const std::string& why)> on_attempt_failed;  // a connection attempt ended without a welcome
  std::function<void(const ErrorMessage&)> on_error;   // the daemon's last word before it closes
  std::function<void(Message&)> on_reply;             // status, push_result: answers to send()

private:
  void connect_now();
  void schedule_reconnect();
  void lost(const std::string& why);
  void tick_heartbeat();
  void flush_samples();
  void handle(Message& message);
  void on_connected() override;
  void on_frame(Frame frame) override;
  void on_closed(const std::optional<Error>& why) override;

  kernel::EpollExecutor& executor_;
  NrdClientConfig config_;
  // Hands the daemon's RTT estimates (empty: none, e.g. the link is gone) to the orchestrator, stamped now.
  void share_rtt_estimates(const std::vector<std::pair<StackId, Duration>>& rtt);
  Orchestrator* orchestrator_;
  std::unique_ptr<FramedConnection> connection_;
  bool running_ = false;
  bool welcomed_ = false;
  Duration backoff_;
  std::minstd_rand jitter_;
  TimerId reconnect_timer_ = 0;
  TimerId heartbeat_timer_ = 0;
  TimerId flush_timer_ = 0;
  TimePoint last_heard_{0};
  Duration silence_timeout_;
  PolicyVersion daemon_version_ = 0;
  PolicyVersion received_version_ = 0;  // without an orchestrator: the newest policy received
  std::deque<PathSample> pending_;
  NrdClientCounters counters_;
  std::string last_problem_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace dmm::nrd
