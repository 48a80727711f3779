// `nrd:` (the resource-discovery service: which algorithm, how often) and `nsocket:` (session-layer timing).
#include "scenario/estimates_section.hpp"
#include "scenario/loader_sections.hpp"

namespace dmm::scenario::detail {
namespace {

// `--set nrd.algorithm=X` on a file whose `params:` were written for its own algorithm: the parameters X does not
// take are dropped, each with a warning, instead of refusing the override (a command line that swaps algorithms
// should not have to know which parameters the file set). Parameters given on the command line, or a file that
// names its own algorithm, are still checked strictly. Returns the map without the dropped entries.
yaml::Node without_foreign_params(const Field& f, const AlgorithmKind& algorithm, const Field& algorithm_field,
                                  LoadContext& ctx) {
  yaml::Node kept = *f.node;
  if (!f->is_map()) return kept;
  kept.entries.clear();
  const auto& overrides = ctx.options.overrides;
  const auto source = static_cast<std::size_t>(algorithm_field->where.source);
  const std::string by = source > 0 && source <= overrides.size() ? "--set " + overrides[source - 1] : "--set";
  for (const auto& entry : f->entries) {
    if (algorithm.defaults.count(entry.key) || entry.value->where.source != 0) {
      kept.entries.push_back(entry);
      continue;
    }
    ctx.scenario.warnings.push_back(by + ": " + f.path + "." + entry.key + " (from " + ctx.scenario.file + ":" +
                                    std::to_string(entry.key_where.line) + ") is not a parameter of '" +
                                    algorithm.name + "': dropped");
  }
  return kept;
}

void load_params(const Field& f, const AlgorithmKind& algorithm, NrdSpec& nrd) {
  const MapReader m(f, "algorithm parameters");
  std::vector<std::string> accepted;
  for (const auto& [name, value] : algorithm.defaults) accepted.push_back(name);
  if (accepted.empty() && !f->entries.empty())
    yaml::fail(f->entries.front().key_where,
               f.path + ": algorithm '" + algorithm.name + "' takes no parameters");
  m.allow(accepted, " for algorithm '" + algorithm.name + "'");
  for (const auto& name : accepted)
    if (auto p = m.get(name)) nrd.params[name] = read_number(*p);
}

}  // namespace

void load_nrd(const MapReader& top, LoadContext& ctx) {
  NrdSpec& nrd = ctx.scenario.nrd;
  const auto section = top.get("nrd");
  if (!section) {
    nrd.enabled = false;  // no nRD: the initial policy stays in force for the whole run
    return;
  }
  if (section->node->is_null())
    section->fail("expected a map; write `nrd: {}` for nRD with its defaults, or leave the section out to run "
                  "without nRD");
  const MapReader m(*section, "the nrd section");
  m.allow({"enabled", "algorithm", "period", "params", "sync_delay", "probe_interval", "estimates"});
  nrd.mark = Mark{section->node->where.line, section->node->where.column};
  nrd.enabled = true;
  if (auto e = m.get("enabled")) nrd.enabled = read_bool(*e);

  // No global registry: the built-ins are cheap to build, and a caller with Python algorithms passes its own.
  const AlgorithmRegistry builtins = ctx.options.algorithms ? AlgorithmRegistry{} : AlgorithmRegistry::with_builtins();
  const AlgorithmRegistry& algorithms = ctx.options.algorithms ? *ctx.options.algorithms : builtins;
  const auto algorithm_field = m.get("algorithm");
  if (algorithm_field) nrd.algorithm = read_text(*algorithm_field);
  const AlgorithmKind* algorithm = algorithms.find(nrd.algorithm);
  if (!algorithm) {
    const std::string what = "unknown algorithm '" + nrd.algorithm + "' (algorithms: " +
                             join_names(algorithms.names()) + ")";
    if (algorithm_field) algorithm_field->fail(what);
    section->fail(what);
  }
  auto params = m.get("params");
  yaml::Node kept_params;
  if (params && algorithm_field && (*algorithm_field)->where.source > 0) {
    kept_params = without_foreign_params(*params, *algorithm, *algorithm_field, ctx);
    params->node = &kept_params;
  }
  if (params) load_params(*params, *algorithm, nrd);
  // Let the algorithm judge its own values (e.g. hysteresis in [0, 1)) now rather than at run time.
  const auto made = algorithms.create(nrd.algorithm, nrd.params);
  if (!made) {
    if (params) params->fail(made.error().message);
    if (algorithm_field) algorithm_field->fail(made.error().message);
    section->fail(made.error().message);
  }

  if (auto p = m.get("period")) {
    nrd.period = read_duration(*p);
    if (nrd.period <= Duration{0}) p->fail("the period must be longer than 0s");
  }
  if (auto d = m.get("sync_delay")) nrd.sync_delay = read_duration(*d);
  if (auto p = m.get("probe_interval")) nrd.probe_interval = read_duration(*p);
  if (auto e = m.get("estimates")) read_estimates(*e, nrd.estimates);
}

void load_nsocket(const MapReader& top, LoadContext& ctx) {
  const auto section = top.get("nsocket");
  if (!section) return;
  const MapReader m(*section, "the nsocket section");
  m.allow({"connect_timeout", "sample_interval", "local_failure_threshold", "local_retry_after"});
  NSocketSpec& ns = ctx.scenario.nsocket;
  if (auto t = m.get("connect_timeout")) {
    ns.connect_timeout = read_duration(*t);
    if (ns.connect_timeout <= Duration{0}) t->fail("connect_timeout must be longer than 0s");
  }
  if (auto t = m.get("sample_interval")) {
    ns.sample_interval = read_duration(*t);
    if (ns.sample_interval <= Duration{0}) t->fail("sample_interval must be longer than 0s");
  }
  // The local circuit breaker: after this many set-up failures in a row a node stops offering the stack to new
  // sessions (events.csv: local_health), until local_retry_after has passed or a set-up on it succeeds.
  if (auto t = m.get("local_failure_threshold"))
    ns.local_failure_threshold = static_cast<std::uint32_t>(read_uint(*t, 1, 1000));
  if (auto t = m.get("local_retry_after")) {
    ns.local_retry_after = read_duration(*t);
    if (ns.local_retry_after <= Duration{0}) t->fail("local_retry_after must be longer than 0s");
  }
}

}  // namespace dmm::scenario::detail
