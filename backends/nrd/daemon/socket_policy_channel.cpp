#include "dmm/nrd/socket_policy_channel.hpp"

#include <vector>

#include "dmm/nrd/messages.hpp"

namespace dmm::nrd {

SocketPolicyChannel::SocketPolicyChannel(std::shared_ptr<const Policy> in_force)
    : in_force_(std::move(in_force)), in_force_frame_(encode(PolicyMessage{*in_force_})) {}

Status SocketPolicyChannel::subscribe(PeerId id, FramedConnection& connection) {
  if (Status sent = connection.send(in_force_frame_); !sent) return sent;
  ++frames_sent_;
  subscribers_[id] = &connection;
  return {};
}

void SocketPolicyChannel::unsubscribe(PeerId id) { subscribers_.erase(id); }

void SocketPolicyChannel::publish(std::shared_ptr<const Policy> policy) {
  in_force_ = std::move(policy);
  in_force_frame_ = encode(PolicyMessage{*in_force_});
  ++published_;
  std::vector<std::pair<PeerId, Error>> dropped;
  for (auto it = subscribers_.begin(); it != subscribers_.end();) {
    if (Status sent = it->second->send(in_force_frame_); !sent) {
      dropped.emplace_back(it->first, sent.error());
      it = subscribers_.erase(it);
      continue;
    }
    ++frames_sent_;
    ++it;
  }
  // After the loop: the owner closes connections, which must not happen while we walk them.
  for (const auto& [id, why] : dropped)
    if (on_overflow) on_overflow(id, why);
}

}  // namespace dmm::nrd
