// `plugins:` and `stacks:` — stack instances, each on a node and a link, of a kind a registry knows.
#include <algorithm>
#include <array>
#include <filesystem>
#include <string_view>
#include <unordered_set>

#include "scenario/loader_sections.hpp"

namespace dmm::scenario::detail {
namespace {

// The kinds every world offers; with a registry, its kinds come first (and may declare extra keys).
constexpr std::array<std::string_view, 3> kBuiltinKinds{"kernel", "lwip-dpdk", "ns3"};

// TCP variants by their ns-3 3.37 names without the `Tcp` prefix (TcpNewReno -> newreno, TcpBbr -> bbr, ...).
constexpr std::array<std::string_view, 16> kTcpVariants{"newreno", "cubic",    "bbr",  "vegas",  "westwood", "htcp",
                                                        "highspeed", "hybla", "scalable", "veno", "bic", "yeah",
                                                        "illinois", "ledbat", "lp",     "dctcp"};

const std::vector<std::string> kCommonKeys{"name", "node", "kind", "link", "tcp", "processing_delay", "time_wait"};

std::vector<std::string> known_kinds(const StackRegistry* registry) {
  std::vector<std::string> names = registry ? registry->names() : std::vector<std::string>{};
  for (auto k : kBuiltinKinds)
    if (std::find(names.begin(), names.end(), k) == names.end()) names.emplace_back(k);
  return names;
}

// The keys a stack of `kind` may have beyond the common ones; fails when the kind is unknown.
std::vector<std::string> kind_params(const Field& f, const std::string& kind, const StackRegistry* registry) {
  if (registry)
    if (const StackKind* k = registry->find(kind)) return k->params;
  if (std::find(kBuiltinKinds.begin(), kBuiltinKinds.end(), kind) != kBuiltinKinds.end()) return {};
  f.fail("unknown stack kind '" + kind + "' (kinds: " + join_names(known_kinds(registry)) + ")" +
         (registry ? "" : "; plug-in kinds need a registry"));
}

std::vector<std::string> read_nodes(const Field& f, const LoadContext& ctx) {
  const Scenario& s = ctx.scenario;
  std::vector<std::string> out;
  if (!f->is_sequence()) {
    out.push_back(s.nodes[static_cast<std::size_t>(read_node_ref(f, ctx))]);
    return out;
  }
  const auto items = f.items();
  if (items.empty()) f.fail("expected a node or a list of nodes, got an empty list");
  std::unordered_set<int> seen;
  for (const Field& item : items) {
    const int index = read_node_ref(item, ctx);
    if (!seen.insert(index).second) item.fail("node '" + s.nodes[static_cast<std::size_t>(index)] + "' is listed twice");
    out.push_back(s.nodes[static_cast<std::size_t>(index)]);
  }
  return out;
}

void load_stack(const Field& f, LoadContext& ctx) {
  Scenario& s = ctx.scenario;
  const MapReader m(f, "a stack");
  const Field kind_field = m.require("kind");
  StackSpec spec;
  spec.mark = Mark{f->where.line, f->where.column};
  spec.kind = read_text(kind_field);
  const std::vector<std::string> params = kind_params(kind_field, spec.kind, ctx.options.registry);
  std::vector<std::string> allowed = kCommonKeys;
  allowed.insert(allowed.end(), params.begin(), params.end());
  m.allow(allowed, " for a stack of kind '" + spec.kind + "'");

  spec.name = read_name(m.require("name"));
  if (auto t = m.get("tcp")) {
    spec.tcp = read_text(*t);
    if (std::find(kTcpVariants.begin(), kTcpVariants.end(), spec.tcp) == kTcpVariants.end())
      t->fail("unknown TCP variant '" + spec.tcp + "' (" +
              join_names(std::vector<std::string>(kTcpVariants.begin(), kTcpVariants.end())) + ")");
  }
  if (auto d = m.get("processing_delay")) spec.processing_delay = read_duration(*d);
  if (auto d = m.get("time_wait")) spec.time_wait = read_duration(*d);
  for (const auto& key : params) {
    // The common keys are typed above; only a kind's own parameters travel as text.
    if (std::find(kCommonKeys.begin(), kCommonKeys.end(), key) != kCommonKeys.end()) continue;
    if (auto p = m.get(key)) spec.params[key] = read_text(*p);
  }

  // A kind the simulator models with ns-3 runs over a link, so it needs one; a plug-in kind (a relay over
  // another stack, say) may have none.
  const bool needs_link = std::find(kBuiltinKinds.begin(), kBuiltinKinds.end(), spec.kind) != kBuiltinKinds.end() ||
                          std::find(params.begin(), params.end(), "link") != params.end();
  const Field node_field = m.require("node");
  const std::optional<Field> link_field = needs_link ? std::optional<Field>(m.require("link")) : m.get("link");
  const LinkSpec* link = link_field ? &read_link_ref(*link_field, ctx) : nullptr;
  if (link) spec.link = link->name;
  NameIndex& names = ctx.names;
  for (const std::string& node : read_nodes(node_field, ctx)) {
    if (link && link->a != node && link->b != node)
      link_field->fail("link '" + link->name + "' joins " + link->a + " and " + link->b + ", not node '" + node +
                       "'");
    // Names hold no '/', so `node/name` is unambiguous.
    const auto [first, fresh] = names.stack_lines.emplace(node + "/" + spec.name, spec.mark.line);
    if (!fresh)
      m.require("name").fail("node '" + node + "' already has a stack named '" + spec.name + "' (line " +
                             std::to_string(first->second) + ")");
    if (names.stacks.insert(spec.name).second) names.stack_names.push_back(spec.name);
    names.nodes_with_stacks.insert(node);
    StackSpec instance = spec;
    instance.node = node;
    names.stack_instances.emplace(node + "/" + spec.name, s.stacks.size());
    s.stacks.push_back(std::move(instance));
  }
}

}  // namespace

void load_plugins(const MapReader& top, LoadContext& ctx) {
  const auto plugins = top.get("plugins");
  if (!plugins) return;
  for (const Field& item : plugins->items()) {
    const std::string text = read_text(item);
    if (text.empty()) item.fail("empty plug-in path");
    std::filesystem::path path(text);
    if (path.is_relative()) path = std::filesystem::path(ctx.base_dir) / path;
    std::string resolved = path.lexically_normal().string();
    // Before stacks are typed, so that the plug-in's kinds and their keys are known to them.
    if (ctx.options.registry) {
      const Status loaded = ctx.options.registry->load_plugin(resolved);
      if (!loaded) item.fail(loaded.error().message);
    }
    ctx.scenario.plugins.push_back(std::move(resolved));
  }
}

void load_stacks(const MapReader& top, LoadContext& ctx) {
  const Field stacks = top.require("stacks");
  const auto items = stacks.items();
  if (items.empty()) stacks.fail("needs at least one stack");
  for (const Field& item : items) load_stack(item, ctx);
}

}  // namespace dmm::scenario::detail
