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
// A command's program chooses its own protocol; its port (where `serve` listens) is optional.
const std::vector<std::string> kCommandKeys{"name", "kind", "from", "to", "port", "intent", "start", "stop",
                                            "rate", "count", "run", "serve", "timeout", "simulate_as"};

const std::vector<KindInfo>& kinds() {
  static const std::vector<KindInfo> table{
      {"bulk", WorkloadKind::bulk, {"size"}},
      {"request-response", WorkloadKind::request_response, {"request", "response"}},
      {"on-off", WorkloadKind::on_off, {"on", "off", "send_rate"}},
      {"command", WorkloadKind::command, {}},
  };
  return table;
}

const KindInfo& read_kind(const Field& f) {
  const std::string text = read_text(f);
  for (const auto& k : kinds())
    if (k.name == text) return k;
  f.fail("unknown workload kind '" + text + "' (bulk, request-response, on-off, command)");
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
    case WorkloadKind::command: break;  // read_command
  }
}

std::string read_command_line(const Field& f) {
  std::string text = read_text(f);
  if (text.find_first_not_of(" \t") == std::string::npos) f.fail("needs a command line (run by /bin/sh -c)");
  if (text.find('\0') != std::string::npos || text.size() > 4096) f.fail("a command line of at most 4096 bytes");
  return text;
}

void read_protocol(const MapReader& m, const std::string_view kind, WorkloadSpec& w) {
  if (auto p = m.get("proto")) {
    const auto proto = parse_l4proto(read_text(*p));
    if (!proto) p->fail("unknown protocol '" + (*p)->text + "' (tcp, udp)");
    if (*proto == L4Proto::udp && w.kind != WorkloadKind::on_off)
      p->fail("udp is only for on-off workloads; a " + std::string(kind) + " workload needs tcp");
    w.proto = *proto;
  }
}

// `simulate_as:` of a command: a built-in workload with the command's name, nodes, intent and schedule; its own
// keys are the kind, that kind's parameters, and port/proto.
std::shared_ptr<const WorkloadSpec> read_simulate_as(const Field& f, const WorkloadSpec& command) {
  const MapReader m(f, "simulate_as (the built-in workload dmm-sim runs in place of the command)");
  const KindInfo& kind = read_kind(m.require("kind"));
  if (kind.kind == WorkloadKind::command)
    m.require("kind").fail("simulate_as needs a built-in kind (bulk, request-response, on-off)");
  std::vector<std::string> allowed{"kind", "port", "proto"};
  allowed.insert(allowed.end(), kind.own_keys.begin(), kind.own_keys.end());
  m.allow(allowed, " in simulate_as (name, nodes, intent and schedule are the command's)");
  auto w = std::make_shared<WorkloadSpec>(command);
  w->kind = kind.kind;
  w->session_timeout = command.command->timeout;  // the simulated session is stopped when the program would be
  w->command.reset();
  // On-off without a rate repeats sessions until `stop`, with `off` between them: not the command's `count`
  // back to back. Refused rather than simulated on another schedule.
  if (kind.kind == WorkloadKind::on_off && !command.rate)
    m.require("kind").fail("an on-off workload without a rate repeats until its stop, not the command's count of "
                           "runs: give the command a rate, or simulate it as bulk or request-response");
  w->mark = Mark{f->where.line, f->where.column};
  if (auto p = m.get("port")) {
    w->port = static_cast<std::uint16_t>(read_uint(*p, 1, 65535));
  } else if (command.port == 0) {
    f.fail("needs a port: the command has none to share");
  }
  read_protocol(m, kind.name, *w);
  read_kind_fields(m, *w);
  return w;
}

void read_command(const MapReader& m, WorkloadSpec& w) {
  CommandSpec c;
  c.run = read_command_line(m.require("run"));
  if (auto f = m.get("serve")) c.serve = read_command_line(*f);
  for (const char* key : {"run", "serve"})
    if (auto f = m.get(key); f && w.port == 0 && read_text(*f).find("{port}") != std::string::npos)
      f->fail("uses {port}, and the workload has no port");
  if (auto f = m.get("timeout")) c.timeout = read_positive_duration(*f);
  w.command = std::move(c);
  if (auto f = m.get("simulate_as")) w.simulate_as = read_simulate_as(*f, w);
}

WorkloadSpec load_workload(const Field& f, const LoadContext& ctx) {
  const Scenario& s = ctx.scenario;
  const MapReader m(f, "a workload");
  const KindInfo& kind = read_kind(m.require("kind"));
  std::vector<std::string> allowed = kind.kind == WorkloadKind::command ? kCommandKeys : kCommonKeys;
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
  if (auto p = kind.kind == WorkloadKind::command ? m.get("port") : std::optional<Field>(m.require("port")))
    w.port = static_cast<std::uint16_t>(read_uint(*p, 1, 65535));
  if (auto i = m.get("intent")) {
    const auto intent = parse_intent(read_text(*i));
    if (!intent) i->fail("unknown intent '" + (*i)->text + "' (default, latency, throughput, bulk)");
    w.intent = *intent;
  }
  read_protocol(m, kind.name, w);
  read_timing(m, s, w);
  read_kind_fields(m, w);
  if (w.kind == WorkloadKind::command) read_command(m, w);
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
