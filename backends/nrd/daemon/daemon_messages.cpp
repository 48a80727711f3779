// What peers say to dmm-nrd, message by message. A peer must say hello first; after that each role may send
// what it needs (orchestrators: samples, heartbeats; dmm-ctl: status, push). Anything else is rejected with an
// error message naming the reason, counted, and the peer is dropped: the daemon never guesses.
#include <algorithm>

#include "daemon_peer.hpp"

namespace dmm::nrd {

void NrdDaemon::Peer::on_frame(Frame frame) {
  last_heard = daemon.executor_.now();
  MessageLimits limits;
  auto message = decode(frame, limits);
  if (!message) {
    daemon.reject(*this, std::string(to_string(decode_problem(message.error()))), message.error().message);
    return;
  }
  ++daemon.counters_.messages_received[static_cast<std::size_t>(frame.type)];
  daemon.on_message(*this, *message);
}

void NrdDaemon::Peer::on_protocol_error(const Error& error) {
  daemon.reject(*this, std::string(to_string(decode_problem(error))), error.message);
}

void NrdDaemon::Peer::on_closed(const std::optional<Error>& why) {
  daemon.drop(id, "", why ? why->message : "closed by the peer");
}

void NrdDaemon::on_message(Peer& peer, Message& message) {
  if (auto* hello = std::get_if<Hello>(&message)) {
    if (peer.hello) return reject(peer, "unexpected", "a second hello");
    return on_hello(peer, *hello);
  }
  if (!peer.hello)
    return reject(peer, "unexpected", std::string(to_string(type_of(message))) + " before hello");
  if (auto* samples = std::get_if<Samples>(&message)) {
    const TimePoint now = executor_.now();
    for (PathSample& s : samples->samples) {
      if (!config_.host.find_stack(s.stack)) {
        ++counters_.samples_unknown_stack;
        continue;
      }
      s.at = now;  // the sender's clock means nothing here
      nrd_->on_sample(s);
      ++counters_.samples["orchestrator"];
      ++peer.samples;
    }
    return;
  }
  if (auto* hb = std::get_if<Heartbeat>(&message)) {
    peer.held = hb->version;
    peer.applied = hb->applied;
    peer.rejected = hb->rejected;
    if (peer.subscribed) resume_above(peer);
    return;
  }
  if (std::holds_alternative<StatusRequest>(message)) {
    if (!peer.connection->send(encode(StatusMessage{status_json()})))
      drop(peer.id, "slow_peer", "no room for the status reply");
    return;
  }
  if (auto* push = std::get_if<PushPolicy>(&message)) return on_push(peer, *push);
  // welcome, policy, error, status, push_result, decision: the daemon's own messages, never a client's.
  reject(peer, "unexpected", "a " + std::string(to_string(type_of(message))) + " message from a client");
}

void NrdDaemon::on_hello(Peer& peer, Hello& hello) {
  peer.held = hello.version;
  log_->info("event=hello id={} peer=\"{}\" role={} name=\"{}\" subscribe={} watch={} version={}", peer.id, peer.who,
             to_string(hello.role), hello.name, hello.subscribe, hello.watch, hello.version);
  if (hello.role == PeerRole::orchestrator && hello.subscribe) {
    // A subscriber that cannot use a stack nRD ranks will refuse those policies: say so where an operator looks.
    std::vector<std::string> missing;
    for (const auto& s : config_.host.stacks)
      if (std::find(hello.stacks.begin(), hello.stacks.end(), s.name) == hello.stacks.end()) missing.push_back(s.name);
    if (!missing.empty() && !hello.stacks.empty()) {
      std::string list;
      for (const auto& m : missing) list += (list.empty() ? "" : ",") + m;
      log_->warn("event=subscriber_lacks_stacks id={} peer=\"{}\" stacks={}", peer.id, peer.who, list);
    }
  }
  peer.hello = std::move(hello);
  Welcome welcome;
  welcome.daemon = "dmm-nrd";
  welcome.version = nrd_->current().version;
  welcome.heartbeat_ms = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.limits.heartbeat).count());
  welcome.stacks = config_.host.stack_names();
  if (!peer.connection->send(encode(welcome))) return drop(peer.id, "slow_peer", "no room for the welcome");
  if (peer.hello->subscribe) {
    if (Status s = channel_->subscribe(peer.id, *peer.connection); !s)
      return drop(peer.id, "slow_subscriber", s.error().message);
    peer.subscribed = true;
  }
  peer.watching = peer.hello->watch;
  if (peer.subscribed) resume_above(peer);
}

void NrdDaemon::resume_above(Peer& peer) {
  // This subscriber holds a version above ours: we lost our state (no state file, or it was removed). Publish our
  // decisions again above it, or every subscriber would ignore us until our numbering caught up.
  if (peer.held <= nrd_->current().version) return;
  Policy again = nrd_->current();
  again.reason = "resumed above version " + std::to_string(peer.held) + " held by a subscriber";
  log_->warn("event=version_floor id={} held={} ours={}", peer.id, peer.held, nrd_->current().version);
  nrd_->publish_now(std::move(again), peer.held + 1);
}

void NrdDaemon::on_push(Peer& peer, PushPolicy& push) {
  // Pushing changes what every orchestrator does: only a local, credentialed dmm-ctl may.
  if (!peer.unix_socket || peer.hello->role != PeerRole::ctl) {
    ++counters_.pushes_rejected;
    return reject(peer, "not_allowed", "policies may be pushed only by dmm-ctl over the Unix socket");
  }
  PushResult result;
  if (Status valid = validate(push.policy, config_.host.stack_names()); !valid) {
    ++counters_.pushes_rejected;
    result.message = valid.error().message;
    log_->warn("event=push_rejected id={} peer=\"{}\" problem=\"{}\"", peer.id, peer.who, result.message);
  } else {
    ++counters_.pushes_accepted;
    Policy policy = std::move(push.policy);
    policy.reason = "pushed by dmm-ctl (" + peer.who + ")" + (policy.reason.empty() ? "" : ": " + policy.reason);
    result.accepted = true;
    result.version = nrd_->publish_now(std::move(policy)).version;
    result.message = "published as version " + std::to_string(result.version);
  }
  if (!peer.connection->send(encode(result))) drop(peer.id, "slow_peer", "no room for the push result");
}

}  // namespace dmm::nrd
