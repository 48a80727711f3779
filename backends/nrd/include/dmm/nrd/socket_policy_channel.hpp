#pragma once
// The core's PolicyChannel over sockets (beside InProcessPolicyChannel, the simulated one): every version nRD
// publishes is encoded once and queued on each subscriber's connection, in publication order, so subscribers apply
// versions in order. A newcomer first gets the version in force. A subscriber whose connection cannot take a
// version (its queue is full: it does not read) is dropped and reported, so that one slow reader neither holds up
// the others nor makes the daemon grow; it resyncs when it reconnects.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "dmm/nrd/framed_connection.hpp"
#include "dmm/policy.hpp"
#include "dmm/policy_channel.hpp"

namespace dmm::nrd {

using PeerId = std::uint64_t;

class SocketPolicyChannel final : public PolicyChannel {
public:
  explicit SocketPolicyChannel(std::shared_ptr<const Policy> in_force);

  // Sends the version in force now, then every later one. ENOBUFS (and not subscribed) if even that does not fit.
  // `connection` must stay valid until unsubscribe(id).
  Status subscribe(PeerId id, FramedConnection& connection);
  void unsubscribe(PeerId id);
  void publish(std::shared_ptr<const Policy> policy) override;

  // Called after publish() for each subscriber it had to drop (already unsubscribed); the owner closes it.
  std::function<void(PeerId, const Error&)> on_overflow;

  std::size_t subscribers() const { return subscribers_.size(); }
  const std::shared_ptr<const Policy>& in_force() const { return in_force_; }
  std::uint64_t versions_published() const { return published_; }
  std::uint64_t frames_sent() const { return frames_sent_; }

private:
  std::shared_ptr<const Policy> in_force_;
  std::string in_force_frame_;  // encoded once per version
  std::map<PeerId, FramedConnection*> subscribers_;
  std::uint64_t published_ = 0;
  std::uint64_t frames_sent_ = 0;
};

}  // namespace dmm::nrd
