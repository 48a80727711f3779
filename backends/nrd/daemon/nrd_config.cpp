// nrd.yaml (README "nrd.yaml"): text in, a validated NrdDaemonConfig or one `FILE:LINE:COL: what is wrong` out.
// Walks the same hardened YAML tree and field readers as the scenario and host-config loaders.
#include "dmm/nrd/nrd_config.hpp"

#include "dmm/host/config_text.hpp"
#include "dmm/nrd/wire.hpp"
#include "scenario/estimates_section.hpp"
#include "scenario/field.hpp"
#include "scenario/yaml_tree.hpp"

namespace dmm::nrd {
namespace {

namespace yaml = scenario::yaml;
using scenario::Field;
using scenario::MapReader;
using scenario::read_text;

constexpr std::size_t kMaxBytes = 1u << 20;
constexpr yaml::Limits kLimits{
    .max_bytes = kMaxBytes, .max_depth = 32, .max_nodes = 100'000, .document = "an nrd config"};

struct Context {
  std::string base_dir;  // nrd.yaml's directory: relative paths start here
  NrdDaemonConfig& config;
};

std::string resolve(const Field& f, const Context& ctx) {
  auto path = host::resolve_config_path(read_text(f), ctx.base_dir);
  if (!path) f.fail(path.error().message);
  return *path;
}

Endpoint read_endpoint(const Field& f) {
  auto e = Endpoint::parse(read_text(f));
  if (!e) f.fail(e.error().message);
  return *e;
}

Duration read_positive_duration(const Field& f) {
  const Duration d = scenario::read_duration(f);
  if (d <= Duration::zero()) f.fail("must be longer than 0s");
  return d;
}

mode_t read_mode(const Field& f) {
  // Octal as written (`0600`, `660`): YAML would read 0600 as a decimal or an octal integer depending on the
  // YAML version, so the text is taken as it is.
  const std::string text = read_text(f);
  mode_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7' || mode > 0777) f.fail("'" + text + "' is not a file mode (octal, e.g. 0600 or 0660)");
    mode = static_cast<mode_t>(mode * 8 + static_cast<mode_t>(c - '0'));
  }
  if (text.empty() || mode > 0777) f.fail("'" + text + "' is not a file mode (octal, from 0 to 0777)");
  if ((mode & 0600) != 0600) f.fail("mode " + text + " would lock the daemon's own user out (needs 0600 at least)");
  return mode;
}

void load_listen(const MapReader& top, Context& ctx) {
  ListenSpec& listen = ctx.config.listen;
  const host::HostConfig& host = ctx.config.host;
  if (host.nrd && !host.nrd->socket.empty()) listen.unix_path = host.nrd->socket;
  const auto section = top.get("listen");
  if (!section) {
    if (listen.unix_path.empty())
      top.field().fail("missing `listen: {unix: PATH}` (the host config names no nrd socket either)");
    return;
  }
  const MapReader m(*section, "the listen section");
  m.allow({"unix", "mode", "allow_uids", "allow_gids", "tcp", "tcp_allow"});
  if (auto u = m.get("unix")) listen.unix_path = resolve(*u, ctx);
  if (listen.unix_path.empty())
    section->fail("missing required key 'unix' (the host config names no nrd socket to default to)");
  if (listen.unix_path.size() > kMaxUnixPath)
    (m.get("unix") ? *m.get("unix") : *section)
        .fail("socket path '" + listen.unix_path + "' is longer than " + std::to_string(kMaxUnixPath) +
              " bytes, the limit of a Unix-domain socket address");
  if (auto mode = m.get("mode")) listen.unix_mode = read_mode(*mode);
  if (auto uids = m.get("allow_uids")) {
    listen.allow_uids.clear();
    for (const Field& item : uids->items())
      listen.allow_uids.push_back(static_cast<uid_t>(scenario::read_uint(item, 0, UINT32_MAX - 1)));
  }
  if (auto gids = m.get("allow_gids"))
    for (const Field& item : gids->items())
      listen.allow_gids.push_back(static_cast<gid_t>(scenario::read_uint(item, 0, UINT32_MAX - 1)));
  if (auto tcp = m.get("tcp")) listen.tcp = read_endpoint(*tcp);
  if (auto allow = m.get("tcp_allow")) {
    if (!listen.tcp) allow->fail("tcp_allow without tcp: there is no TCP listener to guard");
    for (const Field& item : allow->items()) {
      auto prefix = IpPrefix::parse(read_text(item));
      if (!prefix) item.fail(prefix.error().message);
      listen.tcp_allow.push_back(*prefix);
    }
  }
}

void load_algorithm(const MapReader& top, Context& ctx) {
  NrdDaemonConfig& c = ctx.config;
  const AlgorithmRegistry registry = AlgorithmRegistry::with_builtins();
  const auto algorithm = top.get("algorithm");
  if (algorithm) c.algorithm = read_text(*algorithm);
  const AlgorithmKind* kind = registry.find(c.algorithm);
  if (!kind) {
    const std::string what = "unknown algorithm '" + c.algorithm + "' (algorithms: " +
                             scenario::join_names(registry.names()) + ")";
    algorithm ? algorithm->fail(what) : top.field().fail(what);
  }
  const auto params = top.get("params");
  if (params) {
    const MapReader m(*params, "algorithm parameters");
    std::vector<std::string> accepted;
    for (const auto& [name, value] : kind->defaults) accepted.push_back(name);
    m.allow(accepted, " for algorithm '" + c.algorithm + "'");
    for (const auto& name : accepted)
      if (auto p = m.get(name)) c.params[name] = scenario::read_number(*p);
  }
  // The algorithm judges its own values (hysteresis in [0, 1)) now rather than at run time.
  if (auto made = registry.create(c.algorithm, c.params); !made)
    (params ? *params : algorithm ? *algorithm : top.field()).fail(made.error().message);
  if (auto p = top.get("period")) c.nrd.period = read_positive_duration(*p);
}

// The same reader as a scenario's `nrd.estimates`: what was validated in simulation is what gets deployed.
void load_estimates(const MapReader& top, Context& ctx) {
  if (const auto section = top.get("estimates")) scenario::read_estimates(*section, ctx.config.nrd);
}

ProbeKind read_probe_kind(const Field& f) {
  const std::string text = read_text(f);
  if (text == "echo") return ProbeKind::echo;
  if (text == "connect") return ProbeKind::connect;
  f.fail("unknown probe kind '" + text + "' (echo, connect)");
}

void load_probes(const MapReader& top, Context& ctx) {
  const auto section = top.get("probes");
  if (!section) return;
  const MapReader m(*section, "the probes section");
  m.allow({"interval", "timeout", "payload", "targets"});
  ProbeSpec& probes = ctx.config.probes;
  if (auto i = m.get("interval")) probes.interval = read_positive_duration(*i);
  if (auto t = m.get("timeout")) probes.timeout = read_positive_duration(*t);
  if (auto p = m.get("payload")) {
    probes.payload = scenario::read_size(*p);
    if (probes.payload < 1 || probes.payload > (1u << 20)) p->fail("payload must be from 1B to 1MiB");
  }
  for (const Field& item : m.require("targets").items()) {
    const MapReader t(item, "a probe target ({stack: NAME, to: ADDRESS:PORT, kind: echo|connect})");
    t.allow({"stack", "to", "kind"});
    ProbeTargetSpec target;
    const Field stack = t.require("stack");
    target.stack = read_text(stack);
    const host::StackSpec* spec = ctx.config.host.find_stack(target.stack);
    if (!spec)
      stack.fail("unknown stack '" + target.stack + "' (stacks of " + ctx.config.host.file + ": " +
                 scenario::join_names(ctx.config.host.stack_names()) + ")");
    if (!spec->kernel)
      stack.fail("stack '" + target.stack + "' is of kind '" + spec->kind +
                 "': dmm-nrd probes through kernel instances only");
    target.to = read_endpoint(t.require("to"));
    if (target.to.port == 0) t.require("to").fail("a probe target needs a port");
    if (auto k = t.get("kind")) target.kind = read_probe_kind(*k);
    probes.targets.push_back(std::move(target));
  }
}

void load_limits(const MapReader& top, Context& ctx) {
  const auto section = top.get("limits");
  if (!section) return;
  const MapReader m(*section, "the limits section");
  m.allow({"max_message", "max_peers", "send_queue", "heartbeat", "peer_timeout"});
  DaemonLimits& l = ctx.config.limits;
  if (auto f = m.get("max_message")) {
    l.max_message = scenario::read_size(*f);
    if (l.max_message < 4096 || l.max_message > kHardMaxBody) f->fail("max_message must be from 4KiB to 16MiB");
  }
  if (auto f = m.get("max_peers")) l.max_peers = scenario::read_uint(*f, 1, 100'000);
  if (auto f = m.get("send_queue")) {
    l.send_queue = scenario::read_size(*f);
    if (l.send_queue < 4096) f->fail("send_queue must be at least 4KiB");
  }
  if (auto f = m.get("heartbeat")) l.heartbeat = read_positive_duration(*f);
  if (auto f = m.get("peer_timeout")) l.peer_timeout = read_positive_duration(*f);
  if (l.peer_timeout <= l.heartbeat)
    (m.get("peer_timeout") ? *m.get("peer_timeout") : *section).fail("peer_timeout must be longer than heartbeat");
}

void load_outputs(const MapReader& top, Context& ctx) {
  NrdDaemonConfig& c = ctx.config;
  if (auto s = top.get("state")) c.state = resolve(*s, ctx);
  if (auto r = top.get("record")) c.record = resolve(*r, ctx);
  if (auto m = top.get("metrics")) {
    c.metrics = read_endpoint(*m);
    const IpAddress& a = c.metrics->address;
    const bool loopback = a.family == IpFamily::v4 ? a.bytes[0] == 127 : a == *IpAddress::parse("::1");
    if (!loopback) m->fail("metrics are served on a loopback address only (127.0.0.0/8 or [::1])");
  }
  if (auto l = top.get("log")) {
    const MapReader m(*l, "the log section ({level: LEVEL})");
    m.allow({"level"});
    if (auto level = m.get("level")) {
      const auto parsed = host::parse_log_level(read_text(*level));
      if (!parsed) level->fail("unknown log level '" + (*level)->text + "' (trace, debug, info, warn, error)");
      c.log_level = *parsed;
    }
  }
}

void build(std::string_view text, Context& ctx) {
  const yaml::NodeRef root = yaml::parse(text, 0, kLimits);
  if (!root) yaml::fail(yaml::Where{}, "empty nrd config (expected a map with at least `host:`)");
  const MapReader top(Field{root.get(), ""}, "the nrd config");
  top.allow({"host", "listen", "algorithm", "params", "period", "estimates", "probes", "state", "record", "metrics",
             "log", "limits"});
  const Field host = top.require("host");
  auto loaded = host::load_host_config_file(resolve(host, ctx));
  // The host config's own error already says FILE:LINE:COL in that file; say where it was named, too.
  if (!loaded) host.fail("host config: " + loaded.error().message);
  ctx.config.host = std::move(*loaded);
  load_listen(top, ctx);
  load_algorithm(top, ctx);
  load_estimates(top, ctx);
  load_probes(top, ctx);
  load_limits(top, ctx);
  load_outputs(top, ctx);
}

}  // namespace

Result<NrdDaemonConfig> load_nrd_config_text(const std::string& text, const std::string& file_name, uid_t own_uid) {
  if (text.size() > kMaxBytes)
    return host::config_error(file_name, 1, 1, "larger than 1 MiB; not an nrd config");
  NrdDaemonConfig config;
  config.file = file_name;
  config.listen.allow_uids = {own_uid};
  const Status loaded = host::run_config_loader(file_name, "the nrd config", [&] {
    Context ctx{host::config_base_dir(file_name), config};
    build(text, ctx);
  });
  if (!loaded) return loaded.error();
  return config;
}

Result<NrdDaemonConfig> load_nrd_config_file(const std::string& path, uid_t own_uid) {
  auto text = host::read_config_file(path, kMaxBytes, "an nrd config");
  if (!text) return text.error();
  return load_nrd_config_text(*text, path, own_uid);
}

}  // namespace dmm::nrd
