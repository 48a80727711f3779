// What dmm-nrd shows: the status object dmm-ctl prints, the decision record (one object per period, also what
// dmm-ctl watch streams) and the Prometheus metrics.
#include "daemon_peer.hpp"
#include "dmm/nrd/prometheus_text.hpp"
#include "dmm/policy_json.hpp"

namespace dmm::nrd {
namespace {

using Json = nlohmann::json;
using Type = PrometheusText::Type;

Json counters_of(const std::map<std::string, std::uint64_t>& m) {
  Json o = Json::object();
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

}  // namespace

Json NrdDaemon::estimates_json(const StackEstimates& estimates, TimePoint now) const {
  Json list = Json::array();
  for (const StackEstimate& e : estimates) {
    Json o{{"stack", e.stack}, {"healthy", e.healthy}, {"failures", e.failures}};
    // null when nRD has no estimate (never measured, or expired: NrdConfig::expire_after), like the others.
    o["loss"] = e.has_loss ? Json(e.loss) : Json(nullptr);
    o["rtt_ms"] = e.has_rtt ? Json(to_millis(e.rtt)) : Json(nullptr);
    o["goodput_mbps"] = e.has_goodput ? Json(e.goodput.value / 1e6) : Json(nullptr);
    o["capacity_mbps"] = e.has_capacity ? Json(e.capacity.value / 1e6) : Json(nullptr);
    o["last_sample_age_s"] = e.last_sample.count() > 0 ? Json(to_seconds(now - e.last_sample)) : Json(nullptr);
    list.push_back(std::move(o));
  }
  return list;
}

Json NrdDaemon::decision_json(TimePoint now, const StackEstimates& estimates) const {
  const Policy& p = nrd_->current();
  Json o{{"period", periods_},
         {"time_s", to_seconds(now)},
         {"monotonic_s", to_seconds(executor_.monotonic_origin() + now)},
         {"version", p.version},
         {"published", published_this_period_}};
  if (published_this_period_) {
    o["reason"] = p.reason;
    o["policy"] = policy_to_json(p);
  }
  o["estimates"] = estimates_json(estimates, now);
  return o;
}

Json NrdDaemon::status_json() const {
  const TimePoint now = executor_.now();
  Json peers = Json::array();
  for (const auto& [id, peer] : peers_) {
    Json o{{"id", id},
           {"transport", peer->unix_socket ? "unix" : "tcp"},
           {"peer", peer->who},
           {"connected_s", to_seconds(now - peer->connected_at)},
           {"subscribed", peer->subscribed},
           {"watching", peer->watching},
           {"version", peer->held},
           {"applied", peer->applied},
           {"rejected", peer->rejected},
           {"samples", peer->samples},
           {"queued_bytes", peer->connection ? peer->connection->queued_bytes() : 0}};
    if (peer->hello) {
      o["role"] = std::string(to_string(peer->hello->role));
      o["name"] = peer->hello->name;
      o["pid"] = peer->hello->pid;
    }
    peers.push_back(std::move(o));
  }
  Json received = Json::object();
  for (std::size_t t = 1; t < counters_.messages_received.size(); ++t)
    received[std::string(to_string(MessageType(t)))] = counters_.messages_received[t];
  Json params = Json::object();
  for (const auto& [k, v] : config_.params) params[k] = v;
  return Json{{"daemon", "dmm-nrd"},
              {"uptime_s", to_seconds(now)},
              {"algorithm", config_.algorithm},
              {"params", params},
              {"period_s", to_seconds(config_.nrd.period)},
              {"periods", periods_},
              {"policy", policy_to_json(nrd_->current())},
              {"stacks", estimates_json(nrd_->estimates(), now)},
              {"subscribers", channel_->subscribers()},
              {"peers", std::move(peers)},
              {"counters",
               {{"messages_received", std::move(received)},
                {"messages_rejected", counters_of(counters_.messages_rejected)},
                {"peers_accepted", counters_.peers_accepted},
                {"peers_rejected", counters_of(counters_.peers_rejected)},
                {"peers_dropped", counters_of(counters_.peers_dropped)},
                {"samples", counters_of(counters_.samples)},
                {"samples_unknown_stack", counters_.samples_unknown_stack},
                {"pushes_accepted", counters_.pushes_accepted},
                {"pushes_rejected", counters_.pushes_rejected},
                {"probes_sent", prober_ ? prober_->probes_sent() : 0},
                {"state_write_failures", counters_.state_write_failures}}}};
}

std::string NrdDaemon::metrics_text() const {
  const TimePoint now = executor_.now();
  PrometheusText t;
  const auto per_stack = [&](std::string_view name, std::string_view help, auto value) {
    t.family(name, Type::gauge, help);
    for (const StackEstimate& e : nrd_->estimates()) {
      const std::optional<double> v = value(e);
      if (v) t.sample(*v, {{"stack", e.stack}});
    }
  };
  per_stack("dmm_nrd_stack_rtt_seconds", "Smoothed round-trip time nRD estimates for the stack (EWMA).",
            [](const StackEstimate& e) { return e.has_rtt ? std::optional(to_seconds(e.rtt)) : std::nullopt; });
  per_stack("dmm_nrd_stack_goodput_bits_per_second", "Smoothed goodput nRD estimates for the stack (EWMA).",
            [](const StackEstimate& e) { return e.has_goodput ? std::optional(e.goodput.value) : std::nullopt; });
  per_stack("dmm_nrd_stack_capacity_bits_per_second",
            "Highest rate a backlogged sender reached on the stack within nRD's capacity window (a lower bound on "
            "what the path carries).",
            [](const StackEstimate& e) { return e.has_capacity ? std::optional(e.capacity.value) : std::nullopt; });
  per_stack("dmm_nrd_stack_loss_ratio", "Smoothed retransmitted share of segments (EWMA).",
            [](const StackEstimate& e) { return e.has_loss ? std::optional(e.loss) : std::nullopt; });
  per_stack("dmm_nrd_stack_healthy", "1 if nRD considers the stack healthy, else 0.",
            [](const StackEstimate& e) { return std::optional(e.healthy ? 1.0 : 0.0); });
  per_stack("dmm_nrd_stack_failures", "Consecutive failures since the stack's last success.",
            [](const StackEstimate& e) { return std::optional(double(e.failures)); });
  per_stack("dmm_nrd_stack_last_sample_age_seconds", "Time since the last sample about the stack.",
            [&](const StackEstimate& e) {
              return e.last_sample.count() > 0 ? std::optional(to_seconds(now - e.last_sample)) : std::nullopt;
            });

  t.family("dmm_nrd_policy_version", Type::gauge, "Version of the policy nRD publishes now.");
  t.sample(double(nrd_->current().version));
  t.family("dmm_nrd_policies_published_total", Type::counter, "Policy versions published since start.");
  t.sample(double(channel_->versions_published()));
  t.family("dmm_nrd_decisions_total", Type::counter, "nRD periods run (the algorithm ran once each).");
  t.sample(double(nrd_->decisions()));
  t.family("dmm_nrd_subscribers", Type::gauge, "Connected orchestrators subscribed to policies.");
  t.sample(double(channel_->subscribers()));
  t.family("dmm_nrd_peers", Type::gauge, "Open connections (subscribers, reporters, dmm-ctl).");
  t.sample(double(peers_.size()));
  t.family("dmm_nrd_peers_accepted_total", Type::counter, "Connections admitted.");
  t.sample(double(counters_.peers_accepted));
  t.family("dmm_nrd_peers_rejected_total", Type::counter, "Connections refused at accept, by reason.");
  for (const auto& [reason, n] : counters_.peers_rejected) t.sample(double(n), {{"reason", reason}});
  t.family("dmm_nrd_peers_dropped_total", Type::counter, "Connections the daemon dropped, by reason.");
  for (const auto& [reason, n] : counters_.peers_dropped) t.sample(double(n), {{"reason", reason}});
  t.family("dmm_nrd_messages_received_total", Type::counter, "Well-formed messages received, by type.");
  for (std::size_t ty = 1; ty < counters_.messages_received.size(); ++ty)
    t.sample(double(counters_.messages_received[ty]), {{"type", std::string(to_string(MessageType(ty)))}});
  t.family("dmm_nrd_messages_rejected_total", Type::counter,
           "Messages refused (the peer is then dropped), by reason: bad_magic, wrong_version, oversized, truncated, "
           "unknown_type, malformed, unexpected, not_allowed.");
  for (const auto& [reason, n] : counters_.messages_rejected) t.sample(double(n), {{"reason", reason}});
  t.family("dmm_nrd_samples_total", Type::counter, "Path samples ingested, by source.");
  for (const auto& [source, n] : counters_.samples) t.sample(double(n), {{"source", source}});
  t.family("dmm_nrd_samples_unknown_stack_total", Type::counter, "Samples about stacks this daemon does not know.");
  t.sample(double(counters_.samples_unknown_stack));
  t.family("dmm_nrd_probes_sent_total", Type::counter, "Active probes started.");
  t.sample(double(prober_ ? prober_->probes_sent() : 0));
  t.family("dmm_nrd_state_write_failures_total", Type::counter, "Failed writes of the state file.");
  t.sample(double(counters_.state_write_failures));
  return t.text();
}

}  // namespace dmm::nrd
