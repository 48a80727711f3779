// `workloads:` — simulated applications that open sessions through nSocket.
#include <algorithm>

#include "scenario/loader_sections.hpp"

namespace dmm::scenario::detail {
namespace {

struct KindInfo {
  std::string_view name;
  WorkloadKind kind;
  std::vector<std::string> own_keys;  // beyond the common ones
};

const std::vector<std::string> kCommonKeys{"name", "kind",  "from", "to",   "port", "intent",
                                           "proto", "start", "stop", "rate", "count"};

const std::vector<KindInfo>& kinds() {
  static const std::vector<KindInfo> table{
      {"bulk", WorkloadKind::bulk, {"size"}},
      {"request-response", WorkloadKind::request_response, {"request", "response"}},
      {"on-off", WorkloadKind::on_off, {"on", "off", "send_rate"}},
  };
  return table;
}

const KindInfo& read_kind(const Field& f) {
  const std::string text = read_text(f);
  for (const auto& k : kinds())
    if (k.name == text) return k;
  f.fail("unknown workload kind '" + text + "' (bulk, request-response, on-off)");
}

ByteCount read_positive_size(const Field& f) {
  const ByteCount size = read_size(f);
  if (size == 0) f.fail("must be larger than 0B");
  return size;
}

Duration read_positive_duration(const Field& f) {
  const Duration d = read_duration(f);
  if (d <= Duration{0}) f.fail("must be longer than 0s");
  return d;
}

void read_timing(const MapReader& m, const Scenario& s, WorkloadSpec& w) {
  const std::string run = "the run lasts " + format_duration(s.duration);
  if (auto f = m.get("start")) {
    w.start = read_duration(*f);
    if (w.start >= s.duration) f->fail("start " + format_duration(w.start) + " is not before the end (" + run + ")");
  }
  if (auto f = m.get("stop")) {
    w.stop = read_duration(*f);
    if (*w.stop <= w.start) f->fail("stop must be after start (" + format_duration(w.start) + ")");
    if (*w.stop > s.duration) f->fail("stop " + format_duration(*w.stop) + " is after the end (" + run + ")");
  }
  const auto rate = m.get("rate");
  const auto count = m.get("count");
  if (rate && count) count->fail("give either rate (sessions per second) or count (sessions back to back), not both");
  if (rate) w.rate = read_per_second(*rate);
  if (count) w.count = static_cast<std::uint32_t>(read_uint(*count, 1, UINT32_MAX));
}

void read_kind_fields(const MapReader& m, WorkloadSpec& w) {
  switch (w.kind) {
    case WorkloadKind::bulk: w.size = read_positive_size(m.require("size")); break;
    case WorkloadKind::request_response:
      if (auto f = m.get("request")) w.request = read_positive_size(*f);
      if (auto f = m.get("response")) w.response = read_positive_size(*f);
      break;
    case WorkloadKind::on_off:
      if (auto f = m.get("on")) w.on = read_positive_duration(*f);
      if (auto f = m.get("off")) w.off = read_duration(*f);
      if (auto f = m.get("send_rate")) w.send_rate = read_rate(*f);
      break;
  }
}

WorkloadSpec load_workload(const Field& f, const LoadContext& ctx) {
  const Scenario& s = ctx.scenario;
  const MapReader m(f, "a workload");
  const KindInfo& kind = read_kind(m.require("kind"));
  std::vector<std::string> allowed = kCommonKeys;
  allowed.insert(allowed.end(), kind.own_keys.begin(), kind.own_keys.end());
  m.allow(allowed, " for a " + std::string(kind.name) + " workload");

  WorkloadSpec w;
  w.mark = Mark{f->where.line, f->where.column};
  w.kind = kind.kind;
  const Field name = m.require("name");
  w.name = read_name(name);
  if (const auto other = ctx.names.workloads.find(w.name); other != ctx.names.workloads.end())
    name.fail("duplicate workload '" + w.name + "' (line " + std::to_string(s.workloads[other->second].mark.line) + ")");

  const Field from = m.require("from");
  w.from = s.nodes[static_cast<std::size_t>(read_node_ref(from, ctx))];
  const Field to = m.require("to");
  w.to = s.nodes[static_cast<std::size_t>(read_node_ref(to, ctx))];
  if (w.from == w.to) to.fail("a workload runs between two different nodes, not from '" + w.from + "' to itself");
  // Sessions are opened through the stacks of `from`; without one, nothing could carry them.
  if (!ctx.names.nodes_with_stacks.count(w.from))
    from.fail("node '" + w.from + "' has no stacks, so it cannot open sessions");
  w.port = static_cast<std::uint16_t>(read_uint(m.require("port"), 1, 65535));
  if (auto i = m.get("intent")) {
    const auto intent = parse_intent(read_text(*i));
    if (!intent) i->fail("unknown intent '" + (*i)->text + "' (default, latency, throughput, bulk)");
    w.intent = *intent;
  }
  if (auto p = m.get("proto")) {
    const auto proto = parse_l4proto(read_text(*p));
    if (!proto) p->fail("unknown protocol '" + (*p)->text + "' (tcp, udp)");
    if (*proto == L4Proto::udp && w.kind != WorkloadKind::on_off)
      p->fail("udp is only for on-off workloads; a " + std::string(kind.name) + " workload needs tcp");
    w.proto = *proto;
  }
  read_timing(m, s, w);
  read_kind_fields(m, w);
  return w;
}

}  // namespace

void load_workloads(const MapReader& top, LoadContext& ctx) {
  const Field workloads = top.require("workloads");
  const auto items = workloads.items();
  if (items.empty()) workloads.fail("needs at least one workload");
  for (const Field& item : items) {
    WorkloadSpec w = load_workload(item, ctx);
    ctx.names.workloads.emplace(w.name, ctx.scenario.workloads.size());
    ctx.scenario.workloads.push_back(std::move(w));
  }
}

}  // namespace dmm::scenario::detail
