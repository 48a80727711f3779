#pragma once
// The run's nRD as the programs of `kind: command` workloads see it: dmm-run's shim subscribes to dmm-nrd's wire
// protocol (backends/nrd/README.md), so the run serves that protocol on a Unix socket, in front of the scenario's
// own Nrd. Subscribers get the policy in force and every version the run's nRD publishes (this is a
// PolicyChannel the run's nRD also publishes to); the samples they report about their sessions feed that nRD,
// stamped with the run's clock. Only what a subscriber needs is served (hello, samples, heartbeats): dmm-nrd's
// state file, probes, dmm-ctl and metrics belong to a host daemon, not to a run.
//
// Why not dmm-nrd's NrdDaemon itself: it owns its Nrd, algorithm and clock; here the scenario run owns them (its
// events stop and start nRD; metrics.csv records it), and the daemon's sample times would be the loop's, not the
// run's. The framing, the messages and the per-subscriber queues are the daemon's code (dmm_nrd_proto,
// FramedConnection, SocketPolicyChannel).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dmm/graveyard.hpp"
#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/nrd.hpp"
#include "dmm/nrd/socket_policy_channel.hpp"

namespace dmm::emu {

class NrdSocketFront {
public:
  // Listens on `socket_path` (mode 0600: the run's programs run as root). `clock` stamps samples.
  static Result<std::unique_ptr<NrdSocketFront>> create(const std::string& socket_path,
                                                        kernel::EpollExecutor& loop, Executor& clock,
                                                        std::vector<StackId> stacks, const Policy& initial);
  ~NrdSocketFront();  // closes every connection and removes the socket file
  NrdSocketFront(const NrdSocketFront&) = delete;
  NrdSocketFront& operator=(const NrdSocketFront&) = delete;

  // What the run's nRD publishes to, besides its own orchestrators.
  PolicyChannel& channel() { return *channel_; }
  // The nRD that samples go to (null: none, the scenario turned nRD off); set once the run made it.
  void feed(Nrd* nrd) { nrd_ = nrd; }

  std::uint64_t subscribers_seen() const { return subscribers_seen_; }
  std::uint64_t samples_received() const { return samples_; }
  std::uint64_t peers_rejected() const { return rejected_; }

private:
  class Peer;
  NrdSocketFront(std::string path, kernel::EpollExecutor& loop, Executor& clock, std::vector<StackId> stacks,
                 const Policy& initial);
  void accept_all();
  void on_frame(Peer& peer, nrd::Frame frame);
  void drop(nrd::PeerId id, const std::string& last_word);
  void heartbeat();

  std::string path_;
  kernel::EpollExecutor& loop_;
  Executor& clock_;
  std::vector<StackId> stacks_;
  std::unique_ptr<nrd::SocketPolicyChannel> channel_;
  Nrd* nrd_ = nullptr;
  kernel::UniqueFd listener_;
  std::map<nrd::PeerId, std::unique_ptr<Peer>> peers_;
  nrd::PeerId next_peer_ = 1;
  TimerId heartbeat_timer_ = 0;
  std::uint64_t subscribers_seen_ = 0, samples_ = 0, rejected_ = 0;
  Graveyard<Peer> graveyard_;  // peers end inside their own callbacks; last, so it empties first
};

}  // namespace dmm::emu
