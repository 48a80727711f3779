#pragma once
// The messages of dmm-nrd's sync protocol (framing in wire.hpp) and their JSON bodies, encoded and decoded as pure
// functions. Decoding is the boundary where a peer's bytes become values: bounded (names, lists, numbers), strict
// about types and required keys, and every error names the message type and the key.
//
//   hello          {"role":"orchestrator"|"ctl"|"reporter","name":S,"pid":N,"version":N,"subscribe":B,
//                   "watch":B,"stacks":[S...]}          version: the policy version the client holds (0: none)
//   welcome        {"daemon":S,"version":N,"heartbeat_ms":N,"stacks":[S...]}
//   policy         a policy object: {"version","time_s","reason","rules":[...],"down":[...]} (dmm/policy_json.hpp)
//   samples        {"samples":[{"stack":S,"rtt_us":N?,"delivered":N,"interval_us":N,"segments":N,
//                   "retransmits":N,"failure":B}...]}
//   heartbeat      {"version":N,"applied":N,"rejected":N,"rtt_us":{S:N...}?}   applied/rejected: the sender
//                  orchestrator's counters; rtt_us (from the daemon): nRD's RTT estimate of each stack that has
//                  one, for `attempt_delay: auto` (a stack left out has none)
//   error          {"reason":S,"message":S}
//   status_request {}
//   status         an object (dmm-ctl prints it; see status_json in the daemon)
//   push_policy    a policy object (its version is ignored: the daemon numbers it)
//   push_result    {"accepted":B,"version":N,"message":S}
//   decision       an object, one per nRD period (see the daemon's decision_json)
// Keys a receiver does not know are ignored, so a later protocol revision may add keys without a version change;
// a change in meaning needs a new kProtocolVersion.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "dmm/nrd/wire.hpp"
#include "dmm/path_sample.hpp"
#include "dmm/policy.hpp"
#include "dmm/result.hpp"

namespace dmm::nrd {

enum class PeerRole : std::uint8_t {
  orchestrator,  // subscribes to policies, reports samples (the preload shim, dmm-emu, tools)
  ctl,           // dmm-ctl: status, push, watch
  reporter,      // reports samples only
};
std::string_view to_string(PeerRole role);

struct Hello {
  PeerRole role = PeerRole::orchestrator;
  std::string name;                  // for people: program name, host
  std::uint32_t pid = 0;             // as the client sees itself (TCP peers have no credentials)
  PolicyVersion version = 0;         // the policy version the client holds
  bool subscribe = false;            // send me every policy version
  bool watch = false;                // send me one decision message per period
  std::vector<StackId> stacks;       // the stack instances the client can use (for status and checks)
};

struct Welcome {
  std::string daemon;
  PolicyVersion version = 0;
  std::uint32_t heartbeat_ms = 0;
  std::vector<StackId> stacks;
};

struct PolicyMessage {
  Policy policy;
};

struct Samples {
  std::vector<PathSample> samples;  // `at` is not sent: the daemon stamps arrival with its own clock
};

struct Heartbeat {
  PolicyVersion version = 0;
  std::uint64_t applied = 0;
  std::uint64_t rejected = 0;
  std::vector<std::pair<StackId, Duration>> rtt;  // the daemon's RTT estimates (empty from orchestrators)
};

struct ErrorMessage {
  std::string reason;   // a short token: uid_not_allowed, bad_magic, slow_subscriber, ...
  std::string message;  // for people
};

struct StatusRequest {};

struct StatusMessage {
  nlohmann::json body;  // an object
};

struct PushPolicy {
  Policy policy;
};

struct PushResult {
  bool accepted = false;
  PolicyVersion version = 0;
  std::string message;
};

struct DecisionMessage {
  nlohmann::json body;  // an object
};

using Message = std::variant<Hello, Welcome, PolicyMessage, Samples, Heartbeat, ErrorMessage, StatusRequest,
                             StatusMessage, PushPolicy, PushResult, DecisionMessage>;

MessageType type_of(const Message& message);

struct MessageLimits {
  std::size_t max_samples = 4096;   // per samples message
  std::size_t max_stacks = 1024;    // in hello/welcome
  std::size_t max_name_bytes = 255; // names, roles, reasons' tokens
  std::size_t max_text_bytes = 4096;
};

// A whole frame (header + JSON body).
std::string encode(const Message& message);
// The body of a frame of `type`; errors are DecodeProblem::malformed naming the type and the key.
Result<Message> decode(MessageType type, std::string_view body, const MessageLimits& limits = {});
// decode() for a frame.
inline Result<Message> decode(const Frame& frame, const MessageLimits& limits = {}) {
  return decode(frame.type, frame.body, limits);
}

}  // namespace dmm::nrd
