// `topology:` — nodes and the point-to-point links between them.
#include <set>

#include "scenario/loader_sections.hpp"

namespace dmm::scenario::detail {
namespace {

// node_address() gives node i the address 10.255.(i/250).(i%250+1): the third octet runs out past this.
constexpr std::size_t kMaxNodes = 64000;

void load_nodes(const Field& f, LoadContext& ctx) {
  const auto items = f.items();
  if (items.empty()) f.fail("is empty: list the nodes, e.g. [client, server]");
  if (items.size() > kMaxNodes) f.fail("more than " + std::to_string(kMaxNodes) + " nodes");
  for (const Field& item : items) {
    std::string name = read_name(item);
    if (!ctx.names.nodes.emplace(name, static_cast<int>(ctx.scenario.nodes.size())).second)
      item.fail("duplicate node '" + name + "'");
    ctx.scenario.nodes.push_back(std::move(name));
  }
}

LinkSpec load_link(const Field& f, const LoadContext& ctx) {
  const Scenario& s = ctx.scenario;
  const MapReader m(f, "a link");
  m.allow({"name", "between", "rate", "delay", "loss", "queue"});
  LinkSpec link;
  link.mark = Mark{f->where.line, f->where.column};
  link.name = read_name(m.require("name"));
  if (ctx.names.links.count(link.name)) m.require("name").fail("duplicate link '" + link.name + "'");
  const Field between = m.require("between");
  const auto ends = between.items();
  if (ends.size() != 2) between.fail("expected the two nodes the link joins, e.g. [client, server]");
  link.a = s.nodes[static_cast<std::size_t>(read_node_ref(ends[0], ctx))];
  link.b = s.nodes[static_cast<std::size_t>(read_node_ref(ends[1], ctx))];
  if (link.a == link.b) ends[1].fail("a link joins two different nodes, not '" + link.a + "' with itself");
  if (auto r = m.get("rate")) link.rate = read_rate(*r);
  if (auto d = m.get("delay")) link.delay = read_duration(*d);
  if (auto l = m.get("loss")) link.loss = read_probability(*l);
  // In packets; a million 1500-byte packets (1.5 GB) is far past any real buffer and keeps ns-3's queue sane.
  if (auto q = m.get("queue")) link.queue_packets = static_cast<std::uint32_t>(read_uint(*q, 1, 1'000'000));
  return link;
}

}  // namespace

void load_topology(const MapReader& top, LoadContext& ctx) {
  const MapReader topology(top.require("topology"), "the topology");
  topology.allow({"nodes", "links"});
  load_nodes(topology.require("nodes"), ctx);
  const Field links = topology.require("links");
  const auto items = links.items();
  if (items.empty()) links.fail("needs at least one link");
  for (const Field& item : items) {
    LinkSpec link = load_link(item, ctx);
    ctx.names.links.emplace(link.name, ctx.scenario.links.size());
    ctx.scenario.links.push_back(std::move(link));
  }
}

}  // namespace dmm::scenario::detail
