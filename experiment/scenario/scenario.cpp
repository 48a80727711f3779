#include "scenario/scenario.hpp"

namespace dmm::scenario {

const LinkSpec* Scenario::find_link(const std::string& link_name) const {
  for (const auto& link : links)
    if (link.name == link_name) return &link;
  return nullptr;
}

int Scenario::node_index(const std::string& node_name) const {
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i] == node_name) return static_cast<int>(i);
  return -1;
}

IpAddress node_address(int node_index) {
  // 250 hosts per /24 keeps .0 and .251-.255 free; the loader caps the node count so this never wraps.
  const auto i = static_cast<std::uint32_t>(node_index);
  return IpAddress::v4((10u << 24) | (255u << 16) | ((i / 250) << 8) | (i % 250 + 1));
}

}  // namespace dmm::scenario
