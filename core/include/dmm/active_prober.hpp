#pragma once
// nRD's active measurements: every `interval`, a tiny echo exchange on each stack instance toward a target, so
// that nRD keeps estimates of paths no session uses right now (otherwise a path that was left once would never
// be seen to recover). Uses only the Stack API: the same prober runs over ns-3 and real stacks (dmm-sim and
// dmm-nrd), so the two probe alike.
//
// An echo target keeps one connection open from round to round (a keep-alive health check), reconnecting only
// after a failure, a timeout or the peer's close. Why: a new connection per probe costs a handshake and leaves a
// TIME_WAIT connection behind every interval — at 250 ms, 240 per target a minute, which in dmm-sim made 200
// probing clients 11x slower and 6.7x larger than the same run without probes (issue 16) — and on a host it spends
// ports and handshakes on measuring. When a round finds the kept connection's probe still unanswered (a path that
// went silent: its retransmissions say nothing for seconds), the path is asked again on a fresh connection each
// round until the kept probe ends, exactly as every round used to: a link that went down is then known at the next
// round (the new connection fails at once), not at the kept probe's timeout. A connect target opens (and closes) a
// connection per round: the handshake is what it measures.
#include <memory>
#include <vector>

#include "dmm/executor.hpp"
#include "dmm/graveyard.hpp"
#include "dmm/path_sample.hpp"
#include "dmm/stack.hpp"

namespace dmm {

// What one probe measures. `echo`: after connecting, `payload` bytes go out and must come back; the sample's RTT is
// that request/response time (it grows when the path's rate is cut, since the payload queues). `connect`: the
// TCP handshake alone (any listening port will do; one round trip, so it sees delay and loss but barely rate).
// An echo probe's sample also carries its data segments and retransmissions, so probes refresh nRD's loss
// estimate as well as its RTT; a connect probe sends no data segment and refreshes RTT only.
enum class ProbeKind : std::uint8_t { echo, connect };

struct ProbeTarget {
  Stack* stack;
  Endpoint echo;  // an echo service reachable through `stack` (any listener for ProbeKind::connect)
  ProbeKind kind = ProbeKind::echo;
};

struct ProberConfig {
  Duration interval = std::chrono::seconds(1);
  // No echo by then = a failure sample. Generous on purpose: a slow path (a 400 ms RTT) is slow, not broken;
  // RTT estimates, not probe failures, should steer sessions away from it.
  Duration timeout = std::chrono::seconds(2);
  std::size_t payload = 64;                    // bytes sent and expected back
};

class ActiveProber {
public:
  ActiveProber(Executor& executor, std::vector<ProbeTarget> targets, PathSampleSink& sink, ProberConfig config);
  ~ActiveProber();
  ActiveProber(const ActiveProber&) = delete;
  ActiveProber& operator=(const ActiveProber&) = delete;

  void start();
  void stop();  // in-flight probes are abandoned without a sample
  std::uint64_t probes_sent() const { return sent_; }

  std::uint64_t connections_opened() const { return connections_opened_; }

private:
  class KeptProbe;
  class OneShotProbe;
  void round();
  void finish(OneShotProbe* probe);

  Executor& executor_;
  std::vector<ProbeTarget> targets_;
  PathSampleSink& sink_;
  ProberConfig config_;
  Graveyard<Connection> dropped_;  // kept connections let go of inside their own callbacks
  std::vector<std::unique_ptr<KeptProbe>> kept_;  // one per echo target (nullptr for connect targets)
  std::vector<std::unique_ptr<OneShotProbe>> in_flight_;
  TimerId timer_ = 0;
  bool running_ = false;
  std::uint64_t sent_ = 0;
  std::uint64_t connections_opened_ = 0;
  Graveyard<OneShotProbe> finished_;  // last member: finished probes go first (OneShotProbe is incomplete here)
};

}  // namespace dmm
