#pragma once
// nSocket: the session layer. `open` asks the orchestrator which stack carries a session and tries the rule's
// ranked stacks as the rule says (`race`): staggered (the next one starts when the previous attempt has not
// connected after the attempt delay, or failed), failover (only after a failure) or simultaneous. The first
// attempt to connect carries the session; the others are closed at once (nothing was sent on them, so nothing is
// lost). It records the decision and reports path samples (set-up failures, live progress, finished sessions) to
// nRD — an attempt closed because another won is not a failure of its stack, and gives no sample (one that had no
// answer for four of its round trips still counts for this node's circuit breaker).
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "dmm/circuit_breaker.hpp"
#include "dmm/executor.hpp"
#include "dmm/graveyard.hpp"
#include "dmm/orchestrator.hpp"
#include "dmm/path_sample.hpp"
#include "dmm/stack.hpp"

namespace dmm {

using SessionId = std::uint64_t;

struct NSocketConfig {
  Duration connect_timeout = std::chrono::seconds(1);  // set-up slower than this counts as a failure
  Duration sample_interval = std::chrono::milliseconds(250);  // live-session samples to nRD
  // Intervals moving less than this give no goodput sample: short exchanges are bound by RTT and slow start,
  // not by the path's capacity, and would drag the estimate down to a few Mbit/s on any path.
  ByteCount min_goodput_bytes = 64 * 1024;
  // Local circuit breaker, so that set-up failures steer new sessions away even while nRD is gone:
  // after this many consecutive set-up failures a stack is marked unhealthy in the orchestrator ...
  std::uint32_t local_failure_threshold = 2;
  // ... and gets another chance after this long.
  Duration local_retry_after = std::chrono::seconds(5);
  // `attempt_delay: auto` trusts nRD's RTT estimate of a stack for this long after nRD made it (nRD may be gone,
  // leaving its last estimates behind); older, the delay falls back to kFallbackAttemptDelay.
  Duration rtt_estimate_max_age = std::chrono::seconds(10);
};

// One stack nSocket considered for a session, and what became of it (`outcome`, a short token):
// `ok` (set up: the winner); `lost` (still connecting when another attempt won: closed, not a failure);
// a set-up failure: `connect-timeout` (no answer within connect_timeout), `refused`, `unreachable`, `timeout`,
// `reset` or the errno name in lower case (`eacces`); `absent` (no instance of that stack on this node); or
// passed over without a try because it was marked down: `local-down` (this node's circuit breaker, after set-up
// failures) or `down` (nRD's policy lists it down); `connecting` while the attempt is under way. Passed-over
// stacks come first, then the tries in the order they started; a passed-over stack is still tried last when
// every other one fails.
struct Attempt {
  StackId stack;
  std::string outcome;
  // When the attempt started, counted from the session's opening; nullopt for a stack passed over.
  std::optional<Duration> started;
  friend bool operator==(const Attempt&, const Attempt&) = default;
};

// Why a session ended up where it is: goes into sessions.csv and the decision log.
struct Decision {
  StackId stack;  // the winner (while connecting: the attempt started last)
  std::int32_t rule = -1;
  PolicyVersion policy_version = 0;
  RaceMode race = RaceMode::staggered;  // the rule's
  std::uint32_t attempts = 0;  // ranked stacks tried or found absent (a simultaneous race tries them all at once)
  std::vector<Attempt> trail;  // every stack considered, in order (see Attempt)
};

// `fast:lost;slow:ok@250ms`: a Decision's trail in sessions.csv's `attempts` column (empty when no stack was
// considered). An attempt that started after the session opened carries `@` and its start (`@1000ms`,
// `@262.5ms`). Stack names and outcomes hold no ':', ';', ',' or '@'.
std::string format_attempts(const std::vector<Attempt>& trail);
// What a trail adds up to, for run summaries: connection attempts started (a stack absent here is not one),
// those closed because another won, and whether a stack ranked after the first one tried carried the session.
struct AttemptCounts {
  std::uint32_t started = 0;
  std::uint32_t lost = 0;
  bool won_by_later_rank = false;
};
AttemptCounts count_attempts(const std::vector<Attempt>& trail);
// The outcome token of a set-up failure (see Attempt).
std::string attempt_outcome(const Error& error);

class SessionEvents {
public:
  virtual ~SessionEvents() = default;
  virtual void on_established(const Decision&) {}
  virtual void on_failed(const Error&, const Decision&) {}  // every ranked stack failed, or it died later
  virtual void on_readable() {}
  virtual void on_writable() {}
  virtual void on_peer_closed() {}
};

class NSocket;

class Session final : private ConnectionEvents {
public:
  ~Session() override;
  SessionId id() const { return id_; }
  const SessionRequest& request() const { return request_; }
  const Decision& decision() const { return decision_; }
  bool established() const { return established_; }
  TimePoint opened_at() const { return opened_at_; }

  Result<std::size_t> send(std::span<const std::byte> data);
  Result<std::size_t> receive(std::span<std::byte> buffer);
  void shutdown_write();
  // Ends the session: reports the final sample and removes it from the table. No events follow.
  void close();
  ConnectionMetrics metrics() const;

private:
  friend class NSocket;
  // One connection attempt on one stack. Kept until the session goes (attempts never outnumber the rule's
  // stacks), so that a callback of an attempt never runs on a destroyed object.
  struct Try final : ConnectionEvents {
    Try(Session& s, StackIndex st, std::size_t trail) : session(s), stack(st), trail_index(trail) {}
    Session& session;
    StackIndex stack;
    std::size_t trail_index;  // its entry in decision_.trail
    std::unique_ptr<Connection> connection;  // null once the attempt ended
    TimePoint started{0};
    TimerId timeout = 0;
    void on_connected() override { session.attempt_connected(*this); }
    void on_failed(const Error& error) override { session.attempt_failed(*this, error, attempt_outcome(error)); }
    // Only the winner's events reach the application, and the winner is handed to the session itself.
    void on_readable() override {}
    void on_writable() override {}
    void on_peer_closed() override {}
  };

  Session(NSocket& owner, SessionId id, const SessionRequest& request, SessionEvents& events);
  // Starts attempts on the next ranked stacks as the race mode allows; gives up when none is left and none runs.
  void start_attempts();
  // Starts one attempt on choice_.ranked[next_rank_++]; true if it is now connecting.
  bool start_one();
  void attempt_connected(Try& winner);
  void attempt_failed(Try& attempt, const Error& error, std::string outcome);
  void end_attempt(Try& attempt, std::string outcome);
  std::size_t attempts_in_flight() const;
  void arm_stagger(const Try& waited_on);
  void give_up(const Error& error);
  void report_progress(bool final);

  void on_connected() override {}
  void on_failed(const Error& error) override;
  void on_readable() override;
  void on_writable() override;
  void on_peer_closed() override;

  NSocket& owner_;
  SessionId id_;
  SessionRequest request_;
  SessionEvents& events_;
  Choice choice_;
  std::uint8_t next_rank_ = 0;
  Decision decision_;
  StackIndex stack_ = 0;
  std::vector<std::unique_ptr<Try>> tries_;
  std::unique_ptr<Connection> connection_;  // the winner's
  TimerId stagger_timer_ = 0;  // starts the next attempt of a staggered race
  TimerId failure_timer_ = 0;  // delivers on_failed asynchronously (never from inside open())
  Error last_error_{ENETUNREACH, "no stack to try"};
  bool established_ = false;
  bool closed_ = false;
  TimePoint opened_at_{0};
  TimePoint last_report_{0};
  ConnectionMetrics reported_;  // what earlier samples already covered
  ConnectionMetrics final_metrics_;  // the connection's last metrics, kept after close()
};

class NSocket {
public:
  // `stacks[i]` carries orchestrator stack index i (nullptr: that instance is not present here).
  NSocket(Executor& executor, Orchestrator& orchestrator, std::vector<Stack*> stacks, PathSampleSink* samples,
          NSocketConfig config = {});
  ~NSocket();
  NSocket(const NSocket&) = delete;
  NSocket& operator=(const NSocket&) = delete;

  // Starts a session. Fails at once only if no rule matches; otherwise the outcome comes as an event.
  Result<std::unique_ptr<Session>> open(const SessionRequest& request, SessionEvents& events);
  std::size_t live_sessions() const { return live_.size(); }
  // Where samples go (nullptr: nowhere, e.g. nRD is down); may change at any time.
  void set_sample_sink(PathSampleSink* sink) { samples_ = sink; }

private:
  friend class Session;
  void report(const PathSample& sample);
  void sample_live();
  // How long a staggered race waits on an attempt on `waited_on` before it starts the next one.
  Duration attempt_delay(StackIndex waited_on, const AttemptDelay& delay) const;
  // nRD's RTT estimate of `stack` if there is one young enough to trust (rtt_estimate_max_age).
  std::optional<Duration> fresh_rtt(StackIndex stack) const;
  // Whether an attempt on `stack` that lost a race after `unanswered` without an answer looks silent rather than
  // slower (a strike for the circuit breaker: dmm::looks_silent with nRD's fresh estimate and connect_timeout).
  bool looks_silent(StackIndex stack, Duration unanswered, const AttemptDelay& delay) const;
  // Feeds the local circuit breaker; `error` is the failure (nullptr on success), named in the health change.
  void note_setup_result(StackIndex stack, const Error* error);
  // A connection that failed inside its own callback is destroyed later, never under its own feet.
  void retire(std::unique_ptr<Connection> connection);

  Executor& executor_;
  Orchestrator& orchestrator_;
  std::vector<Stack*> stacks_;
  PathSampleSink* samples_;
  NSocketConfig config_;
  SessionId next_id_ = 1;
  std::map<SessionId, Session*> live_;  // the session table (established or connecting sessions)
  TimerId sample_timer_ = 0;
  bool sampling_ = false;
  CircuitBreaker breaker_;
  Graveyard<Connection> graveyard_{executor_};  // last member: dead connections go first
};

}  // namespace dmm
