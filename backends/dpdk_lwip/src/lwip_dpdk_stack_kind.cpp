#include "dmm/lwip_dpdk/lwip_dpdk_stack_kind.hpp"

#include <algorithm>

#include "lwip_dpdk_stack.hpp"

namespace dmm::lwip_dpdk {

std::vector<std::string> lwip_dpdk_stack_params() {
  return {"vdev", "address", "gateway", "address6", "netns", "user_timeout"};
}

Result<LwipDpdkConfig> parse_lwip_dpdk_config(const StackConfig& config) {
  LwipDpdkConfig out;
  out.name = config.name;
  auto fail = [&](const std::string& key, const std::string& what) {
    return make_error(EINVAL, "stack '" + config.name + "': " + key + ": " + what);
  };
  auto param = [&](const std::string& key) -> const std::string* {
    const auto it = config.params.find(key);
    return it == config.params.end() ? nullptr : &it->second;
  };
  for (const auto& [key, value] : config.params) {
    const auto known = lwip_dpdk_stack_params();
    if (std::find(known.begin(), known.end(), key) == known.end()) return fail(key, "unknown parameter");
  }
  const std::string* vdev = param("vdev");
  if (!vdev || vdev->empty()) return fail("vdev", "required (a DPDK --vdev argument such as net_af_packet0,iface=IF)");
  out.vdev = *vdev;
  const std::string* address = param("address");
  if (!address) return fail("address", "required (IPv4 ADDRESS/LENGTH)");
  const auto slash = address->find('/');
  if (slash == std::string::npos) return fail("address", "'" + *address + "' needs a prefix length: ADDRESS/LENGTH");
  auto ip = IpAddress::parse(std::string_view(*address).substr(0, slash));
  auto prefix = IpPrefix::parse(*address);
  if (!ip) return fail("address", ip.error().message);
  if (!prefix) return fail("address", prefix.error().message);
  if (ip->family != IpFamily::v4) return fail("address", "lwip-dpdk instances take IPv4 addresses only");
  if (prefix->length == 0) return fail("address", "a prefix length of at least 1");
  out.address = *ip;
  out.prefix_length = prefix->length;
  if (const std::string* gateway = param("gateway")) {
    auto gw = IpAddress::parse(*gateway);
    if (!gw) return fail("gateway", gw.error().message);
    if (!IpPrefix::of(out.address, out.prefix_length).contains(*gw))
      return fail("gateway", gw->to_string() + " is not on the stack's subnet");
    out.gateway = *gw;
  }
  if (const std::string* address6 = param("address6")) {
    const auto slash6 = address6->find('/');
    if (slash6 == std::string::npos)
      return fail("address6", "'" + *address6 + "' needs a prefix length: ADDRESS/LENGTH");
    auto ip6 = IpAddress::parse(std::string_view(*address6).substr(0, slash6));
    auto prefix6 = IpPrefix::parse(*address6);
    if (!ip6) return fail("address6", ip6.error().message);
    if (!prefix6) return fail("address6", prefix6.error().message);
    if (ip6->family != IpFamily::v6) return fail("address6", "an IPv6 address (ADDRESS/LENGTH)");
    if (prefix6->length == 0) return fail("address6", "a prefix length of at least 1");
    out.address6 = *ip6;
    out.prefix_length6 = prefix6->length;
  }
  if (const std::string* netns = param("netns")) {
    if (netns->empty() || netns->find('/') != std::string::npos || *netns == "." || *netns == "..")
      return fail("netns", "'" + *netns + "' is not a namespace name");
    out.netns = *netns;
  }
  if (const std::string* timeout = param("user_timeout")) {
    auto d = parse_duration(*timeout);
    if (!d) return fail("user_timeout", d.error().message);
    if (*d <= Duration::zero()) return fail("user_timeout", "must be positive");
    out.user_timeout = *d;
  }
  return out;
}

std::optional<std::uint64_t> lwip_dpdk_frames_sent(const Stack& stack) {
  const auto* lwip = dynamic_cast<const LwipDpdkStack*>(&stack);
  if (!lwip) return std::nullopt;
  return lwip->interface().port().counters().tx_frames;
}

Status set_lwip_dpdk_link(Stack& stack, bool up) {
  auto* lwip = dynamic_cast<LwipDpdkStack*>(&stack);
  if (!lwip) return make_error(ENOTSUP, "stack '" + stack.info().id + "' is not an lwip-dpdk instance");
  lwip->set_link(up);
  return {};
}

Status register_lwip_dpdk_stack_kind(StackRegistry& registry) {
  StackFactory factory = [](const StackConfig& config, StackWorld& world) -> Result<std::unique_ptr<Stack>> {
    auto parsed = parse_lwip_dpdk_config(config);
    if (!parsed) return parsed.error();
    auto stack = LwipDpdkStack::create(*parsed, world);
    if (!stack) return stack.error();
    return std::unique_ptr<Stack>(std::move(*stack));
  };
  return registry.add(StackKind{"lwip-dpdk", lwip_dpdk_stack_params(), std::move(factory)});
}

}  // namespace dmm::lwip_dpdk
