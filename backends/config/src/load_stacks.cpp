// `plugins:` and `stacks:` — the stack instances of this host: kernel namespaces, lwIP/DPDK ports, plug-in kinds.
#include <algorithm>
#include <array>
#include <string_view>

#include "dmm/host/config_text.hpp"
#include "host_sections.hpp"

namespace dmm::host::detail {
namespace {

using scenario::join_names;
using scenario::read_name;
using scenario::read_text;

// The kinds this loader types itself, with their keys (DESIGN.md §2.5).
// `allow:` is dmm-stackd's admission, not a property of the instance: typed here, never a registry parameter.
const std::vector<std::string> kKernelKeys{"name", "kind", "netns", "protocol", "congestion", "allow"};
const std::vector<std::string> kLwipDpdkKeys{"name",  "kind",        "vdev",  "address", "gateway", "address6",
                                             "netns", "user_timeout", "allow"};

std::vector<std::string> known_kinds(const StackRegistry* registry) {
  std::vector<std::string> names{"kernel", "lwip-dpdk"};
  if (registry)
    for (auto& name : registry->names())
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
  return names;
}

// The keys a stack of `kind` may have; fails at the kind when it is unknown.
std::vector<std::string> keys_of(const Field& kind_field, const std::string& kind, const StackRegistry* registry) {
  if (kind == "kernel") return kKernelKeys;
  if (kind == "lwip-dpdk") return kLwipDpdkKeys;
  if (registry) {
    if (const StackKind* k = registry->find(kind)) {
      std::vector<std::string> keys{"name", "kind"};
      keys.insert(keys.end(), k->params.begin(), k->params.end());
      return keys;
    }
  }
  kind_field.fail("unknown stack kind '" + kind + "' (kinds: " + join_names(known_kinds(registry)) + ")" +
                  (registry ? "" : "; plug-in kinds need a registry"));
}

// A name under /run/netns: one path component, as `ip netns add` accepts it.
std::string read_netns(const Field& f) {
  const std::string name = read_text(f);
  const bool printable = std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c != 0x7f; });
  if (name.empty() || name.size() > 255 || name == "." || name == ".." ||
      name.find('/') != std::string::npos || !printable)
    f.fail("invalid network namespace name '" + name +
           "': expected the name of a file under /run/netns (no '/', no spaces, at most 255 characters)");
  return name;
}

KernelStackSpec read_kernel(const MapReader& m, const LoadContext& ctx) {
  KernelStackSpec spec;
  if (auto f = m.get("allow")) spec.allow = read_allow(*f, ctx.options.resolve_accounts);
  else spec.allow.mark = mark_of(m.field());
  if (auto f = m.get("netns")) spec.netns = read_netns(*f);
  if (auto f = m.get("protocol")) {
    const std::string text = read_text(*f);
    if (text == "tcp") spec.protocol = KernelProtocol::tcp;
    else if (text == "mptcp") spec.protocol = KernelProtocol::mptcp;
    else f->fail("unknown protocol '" + text + "' for a kernel stack (tcp, mptcp)");
  }
  if (auto f = m.get("congestion")) {
    const std::string text = read_text(*f);
    // The kernel's names are at most 15 characters of [a-z0-9_] (TCP_CA_NAME_MAX); whether this kernel has it
    // is checked with the host (check_host), not here.
    if (text.empty() || text.size() > 15 || text.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
      f->fail("invalid congestion control '" + text + "': a kernel name such as cubic, bbr or reno");
    spec.congestion = text;
  }
  return spec;
}

InterfaceAddress read_interface_address(const Field& f) {
  const std::string text = read_text(f);
  const auto slash = text.find('/');
  if (slash == std::string::npos)
    f.fail("'" + text + "' needs a prefix length: ADDRESS/LENGTH, e.g. " +
           (text.find(':') != std::string::npos ? "fd00:77::2/64" : "10.77.0.2/24"));
  auto address = IpAddress::parse(std::string_view(text).substr(0, slash));
  if (!address) f.fail(address.error().message);
  auto prefix = IpPrefix::parse(text);  // checks the length against the family
  if (!prefix) f.fail(prefix.error().message);
  if (prefix->length == 0) f.fail("'" + text + "': an interface address needs a prefix length of at least 1");
  return InterfaceAddress{*address, prefix->length};
}

LwipDpdkStackSpec read_lwip_dpdk(const MapReader& m, const LoadContext& ctx) {
  LwipDpdkStackSpec spec;
  if (auto f = m.get("allow")) spec.allow = read_allow(*f, ctx.options.resolve_accounts);
  else spec.allow.mark = mark_of(m.field());
  const Field vdev = m.require("vdev");
  spec.vdev = read_text(vdev);
  if (spec.vdev.empty()) vdev.fail("empty vdev (expected a DPDK --vdev argument such as net_af_packet0,iface=IF)");
  spec.address = read_interface_address(m.require("address"));
  if (spec.address.address.family != IpFamily::v4)
    m.require("address").fail("'address' is the instance's IPv4 address; an IPv6 one goes in 'address6'");
  if (auto f = m.get("gateway")) {
    auto gateway = IpAddress::parse(read_text(*f));
    if (!gateway) f->fail(gateway.error().message);
    const IpPrefix subnet = spec.address.subnet();
    if (!subnet.contains(*gateway))
      f->fail("gateway " + gateway->to_string() + " is not on the stack's subnet " + subnet.to_string());
    if (*gateway == spec.address.address) f->fail("the gateway cannot be the stack's own address");
    spec.gateway = *gateway;
  }
  if (auto f = m.get("address6")) {
    spec.address6 = read_interface_address(*f);
    if (spec.address6->address.family != IpFamily::v6) f->fail("address6 must be an IPv6 ADDRESS/LENGTH");
  }
  if (auto f = m.get("netns")) spec.netns = read_netns(*f);
  if (auto f = m.get("user_timeout")) {
    auto timeout = parse_duration(read_text(*f));
    if (!timeout) f->fail(timeout.error().message);
    if (*timeout <= Duration::zero()) f->fail("user_timeout must be positive");
    spec.user_timeout = *timeout;
  }
  return spec;
}

void load_stack(const Field& item, LoadContext& ctx) {
  const MapReader m(item, "a stack ({name: NAME, kind: KIND, ...})");
  const Field kind_field = m.require("kind");
  StackSpec spec;
  spec.mark = mark_of(item);
  spec.kind = read_text(kind_field);
  const std::vector<std::string> keys = keys_of(kind_field, spec.kind, ctx.options.registry);
  m.allow(keys, " for a stack of kind '" + spec.kind + "'");

  const Field name_field = m.require("name");
  spec.name = read_name(name_field);
  const auto [first, fresh] = ctx.stacks.emplace(spec.name, name_field->where.line);
  if (!fresh)
    name_field.fail("a stack named '" + spec.name + "' is already defined (line " + std::to_string(first->second) + ")");

  if (spec.kind == "kernel") spec.kernel = read_kernel(m, ctx);
  if (spec.kind == "lwip-dpdk") spec.lwip_dpdk = read_lwip_dpdk(m, ctx);
  // Every kind's parameters also travel as text, for the registry's factories (typed above for built-ins).
  for (const auto& key : keys) {
    if (key == "name" || key == "kind" || key == "allow") continue;
    if (auto p = m.get(key)) spec.params[key] = read_text(*p);
  }
  ctx.config.stacks.push_back(std::move(spec));
}

}  // namespace

std::string resolve_path(const Field& f, const LoadContext& ctx) {
  auto path = resolve_config_path(read_text(f), ctx.base_dir);
  if (!path) f.fail(path.error().message);
  return *path;
}

void load_plugins(const MapReader& top, LoadContext& ctx) {
  const auto plugins = top.get("plugins");
  if (!plugins) return;
  for (const Field& item : plugins->items()) {
    std::string path = resolve_path(item, ctx);
    if (ctx.options.registry) {
      const Status loaded = ctx.options.registry->load_plugin(path);
      if (!loaded) item.fail(loaded.error().message);
    }
    ctx.config.plugins.push_back(std::move(path));
    ctx.config.plugin_marks.push_back(mark_of(item));
  }
}

void load_stacks(const MapReader& top, LoadContext& ctx) {
  const Field stacks = top.require("stacks");
  const auto items = stacks.items();
  if (items.empty()) stacks.fail("needs at least one stack, e.g. - {name: host, kind: kernel}");
  for (const Field& item : items) load_stack(item, ctx);
}

}  // namespace dmm::host::detail
