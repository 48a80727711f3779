#include "dmm/nrd/messages.hpp"

#include <type_traits>

#include "dmm/json_reader.hpp"
#include "dmm/policy_json.hpp"

namespace dmm::nrd {
namespace {

using Ordered = nlohmann::ordered_json;
using json::ObjectReader;
using json::Value;

constexpr std::uint64_t kMaxMicros = 1'000'000'000'000;  // 11.6 days: a bound, not a plausible value
constexpr std::uint64_t kMaxCount = 1ull << 53;          // exact in a double, far above any real counter

std::int64_t micros(Duration d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); }
Duration from_micros(std::uint64_t us) { return std::chrono::microseconds(us); }

std::string dump(const Ordered& body) {
  // `replace`: text from configs and people (names, reasons) must never make encoding throw.
  return body.dump(-1, ' ', false, Ordered::error_handler_t::replace);
}

std::string dump(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

PeerRole read_role(const Value& v, const std::string& path) {
  const std::string text = json::read_text(v, path, 32);
  for (PeerRole r : {PeerRole::orchestrator, PeerRole::ctl, PeerRole::reporter})
    if (to_string(r) == text) return r;
  json::fail(path, "unknown role '" + text + "' (orchestrator, ctl, reporter)");
}

Hello read_hello(const Value& v, const MessageLimits& limits) {
  const ObjectReader m(v, "hello");
  Hello h;
  h.role = read_role(m.require("role"), m.path_of("role"));
  if (const Value* n = m.get("name")) h.name = json::read_text(*n, m.path_of("name"), limits.max_name_bytes);
  if (const Value* p = m.get("pid")) h.pid = static_cast<std::uint32_t>(json::read_uint(*p, m.path_of("pid"), UINT32_MAX));
  if (const Value* ver = m.get("version")) h.version = json::read_uint(*ver, m.path_of("version"), UINT64_MAX);
  if (const Value* s = m.get("subscribe")) h.subscribe = json::read_bool(*s, m.path_of("subscribe"));
  if (const Value* w = m.get("watch")) h.watch = json::read_bool(*w, m.path_of("watch"));
  if (const Value* s = m.get("stacks"))
    h.stacks = json::read_names(*s, m.path_of("stacks"), limits.max_stacks, limits.max_name_bytes);
  return h;
}

Welcome read_welcome(const Value& v, const MessageLimits& limits) {
  const ObjectReader m(v, "welcome");
  Welcome w;
  w.daemon = json::read_text(m.require("daemon"), m.path_of("daemon"), limits.max_name_bytes);
  w.version = json::read_uint(m.require("version"), m.path_of("version"), UINT64_MAX);
  w.heartbeat_ms = static_cast<std::uint32_t>(json::read_uint(m.require("heartbeat_ms"), m.path_of("heartbeat_ms"), 3'600'000));
  if (const Value* s = m.get("stacks"))
    w.stacks = json::read_names(*s, m.path_of("stacks"), limits.max_stacks, limits.max_name_bytes);
  return w;
}

PathSample read_sample(const Value& v, const std::string& path, const MessageLimits& limits) {
  const ObjectReader m(v, path);
  PathSample s;
  s.stack = json::read_text(m.require("stack"), m.path_of("stack"), limits.max_name_bytes);
  if (s.stack.empty()) json::fail(m.path_of("stack"), "empty stack name");
  if (const Value* rtt = m.get("rtt_us"); rtt && !rtt->is_null())
    s.rtt = from_micros(json::read_uint(*rtt, m.path_of("rtt_us"), kMaxMicros));
  if (const Value* d = m.get("delivered")) s.delivered = json::read_uint(*d, m.path_of("delivered"), kMaxCount);
  if (const Value* i = m.get("interval_us")) s.interval = from_micros(json::read_uint(*i, m.path_of("interval_us"), kMaxMicros));
  if (const Value* n = m.get("segments")) s.segments_sent = json::read_uint(*n, m.path_of("segments"), kMaxCount);
  if (const Value* r = m.get("retransmits")) s.retransmits = json::read_uint(*r, m.path_of("retransmits"), kMaxCount);
  if (const Value* f = m.get("failure")) s.failure = json::read_bool(*f, m.path_of("failure"));
  // Added after the first format (older clients leave it out, older daemons ignore it): see PathSample.
  if (const Value* b = m.get("acked_backlogged"))
    s.acked_backlogged = json::read_uint(*b, m.path_of("acked_backlogged"), kMaxCount);
  return s;
}

Samples read_samples(const Value& v, const MessageLimits& limits) {
  const ObjectReader m(v, "samples");
  const Value& list = m.require("samples");
  if (!list.is_array()) json::fail(m.path_of("samples"), "expected a list, got " + json::type_name(list));
  if (list.size() > limits.max_samples)
    json::fail(m.path_of("samples"), std::to_string(list.size()) + " samples, at most " +
                                         std::to_string(limits.max_samples) + " per message");
  Samples out;
  out.samples.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i)
    out.samples.push_back(read_sample(list[i], "samples[" + std::to_string(i) + "]", limits));
  return out;
}

Heartbeat read_heartbeat(const Value& v, const MessageLimits& limits) {
  const ObjectReader m(v, "heartbeat");
  Heartbeat h;
  if (const Value* ver = m.get("version")) h.version = json::read_uint(*ver, m.path_of("version"), UINT64_MAX);
  if (const Value* a = m.get("applied")) h.applied = json::read_uint(*a, m.path_of("applied"), kMaxCount);
  if (const Value* r = m.get("rejected")) h.rejected = json::read_uint(*r, m.path_of("rejected"), kMaxCount);
  if (const Value* rtt = m.get("rtt_us")) {
    const std::string path = m.path_of("rtt_us");
    if (!rtt->is_object()) json::fail(path, "expected an object of stack names and microseconds, got " + json::type_name(*rtt));
    if (rtt->size() > limits.max_stacks) json::fail(path, "more than " + std::to_string(limits.max_stacks) + " stacks");
    for (const auto& [name, us] : rtt->items()) {
      if (name.empty() || name.size() > limits.max_name_bytes) json::fail(path, "a stack name of 1 to " + std::to_string(limits.max_name_bytes) + " bytes");
      // An hour bounds any RTT; microseconds keep the frame short.
      const std::uint64_t value = json::read_uint(us, path + "." + name, 3'600'000'000ULL);
      h.rtt.emplace_back(name, std::chrono::microseconds(value));
    }
  }
  return h;
}

ErrorMessage read_error(const Value& v, const MessageLimits& limits) {
  const ObjectReader m(v, "error");
  ErrorMessage e;
  e.reason = json::read_text(m.require("reason"), m.path_of("reason"), limits.max_name_bytes);
  if (const Value* t = m.get("message")) e.message = json::read_text(*t, m.path_of("message"), limits.max_text_bytes);
  return e;
}

PushResult read_push_result(const Value& v, const MessageLimits& limits) {
  const ObjectReader m(v, "push_result");
  PushResult r;
  r.accepted = json::read_bool(m.require("accepted"), m.path_of("accepted"));
  if (const Value* ver = m.get("version")) r.version = json::read_uint(*ver, m.path_of("version"), UINT64_MAX);
  if (const Value* t = m.get("message")) r.message = json::read_text(*t, m.path_of("message"), limits.max_text_bytes);
  return r;
}

Policy read_policy(const Value& v, std::string_view type) {
  auto policy = policy_from_json(v);
  if (!policy) json::fail(std::string(type), policy.error().message);
  return std::move(policy).value();
}

Message read_body(MessageType type, const Value& v, const MessageLimits& limits) {
  switch (type) {
    case MessageType::hello: return read_hello(v, limits);
    case MessageType::welcome: return read_welcome(v, limits);
    case MessageType::policy: return PolicyMessage{read_policy(v, "policy")};
    case MessageType::samples: return read_samples(v, limits);
    case MessageType::heartbeat: return read_heartbeat(v, limits);
    case MessageType::error: return read_error(v, limits);
    case MessageType::status_request: ObjectReader(v, "status_request"); return StatusRequest{};
    case MessageType::status: ObjectReader(v, "status"); return StatusMessage{v};
    case MessageType::push_policy: return PushPolicy{read_policy(v, "push_policy")};
    case MessageType::push_result: return read_push_result(v, limits);
    case MessageType::decision: ObjectReader(v, "decision"); return DecisionMessage{v};
  }
  json::fail("message", "unknown message type " + std::to_string(static_cast<int>(type)));
}

Ordered sample_json(const PathSample& s) {
  Ordered o{{"stack", s.stack}};
  if (s.rtt) o["rtt_us"] = micros(*s.rtt);
  if (s.delivered) o["delivered"] = s.delivered;
  if (s.interval.count() > 0) o["interval_us"] = micros(s.interval);
  if (s.segments_sent) o["segments"] = s.segments_sent;
  if (s.retransmits) o["retransmits"] = s.retransmits;
  if (s.failure) o["failure"] = true;
  if (s.acked_backlogged) o["acked_backlogged"] = s.acked_backlogged;
  return o;
}

std::string body_of(const Message& message) {
  return std::visit(
      [](const auto& m) -> std::string {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Hello>) {
          return dump(Ordered{{"role", std::string(to_string(m.role))}, {"name", m.name}, {"pid", m.pid},
                              {"version", m.version}, {"subscribe", m.subscribe}, {"watch", m.watch},
                              {"stacks", m.stacks}});
        } else if constexpr (std::is_same_v<T, Welcome>) {
          return dump(Ordered{{"daemon", m.daemon}, {"version", m.version}, {"heartbeat_ms", m.heartbeat_ms},
                              {"stacks", m.stacks}});
        } else if constexpr (std::is_same_v<T, PolicyMessage> || std::is_same_v<T, PushPolicy>) {
          return dump(policy_to_json(m.policy));
        } else if constexpr (std::is_same_v<T, Samples>) {
          Ordered list = Ordered::array();
          for (const auto& s : m.samples) list.push_back(sample_json(s));
          return dump(Ordered{{"samples", std::move(list)}});
        } else if constexpr (std::is_same_v<T, Heartbeat>) {
          Ordered body{{"version", m.version}, {"applied", m.applied}, {"rejected", m.rejected}};
          if (!m.rtt.empty()) {
            Ordered rtt = Ordered::object();
            for (const auto& [stack, d] : m.rtt)
              rtt[stack] = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
            body["rtt_us"] = std::move(rtt);
          }
          return dump(body);
        } else if constexpr (std::is_same_v<T, ErrorMessage>) {
          return dump(Ordered{{"reason", m.reason}, {"message", m.message}});
        } else if constexpr (std::is_same_v<T, StatusRequest>) {
          return "{}";
        } else if constexpr (std::is_same_v<T, StatusMessage> || std::is_same_v<T, DecisionMessage>) {
          return m.body.is_object() ? dump(m.body) : "{}";
        } else {
          static_assert(std::is_same_v<T, PushResult>);
          return dump(Ordered{{"accepted", m.accepted}, {"version", m.version}, {"message", m.message}});
        }
      },
      message);
}

}  // namespace

std::string_view to_string(PeerRole role) {
  switch (role) {
    case PeerRole::orchestrator: return "orchestrator";
    case PeerRole::ctl: return "ctl";
    case PeerRole::reporter: return "reporter";
  }
  return "?";
}

MessageType type_of(const Message& message) {
  static constexpr MessageType kTypes[] = {
      MessageType::hello,          MessageType::welcome, MessageType::policy,      MessageType::samples,
      MessageType::heartbeat,      MessageType::error,   MessageType::status_request, MessageType::status,
      MessageType::push_policy,    MessageType::push_result, MessageType::decision};
  static_assert(std::size(kTypes) == std::variant_size_v<Message>);
  return kTypes[message.index()];
}

std::string encode(const Message& message) { return encode_frame(type_of(message), body_of(message)); }

Result<Message> decode(MessageType type, std::string_view body, const MessageLimits& limits) {
  const std::string what = std::string(to_string(type)) + " message";
  auto value = json::parse(body, what);
  if (!value) return decode_error(DecodeProblem::malformed, value.error().message);
  auto message = json::read_guarded<Message>(what, [&] { return read_body(type, *value, limits); });
  if (!message) return decode_error(DecodeProblem::malformed, message.error().message);
  return message;
}

}  // namespace dmm::nrd
