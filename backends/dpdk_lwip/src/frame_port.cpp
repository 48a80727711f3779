#include "frame_port.hpp"

#include <sstream>
#include <vector>

#include "dpdk_environment.hpp"
#include "dpdk_port.hpp"
#include "packet_ring_port.hpp"

namespace dmm::lwip_dpdk {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, separator);) parts.push_back(part);
  return parts;
}

// `net_af_packetN,iface=NAME`: the interface, and nothing else (DPDK's driver options size its own rings and
// queues, which this port does not have).
Result<std::unique_ptr<FramePort>> open_af_packet(const std::string& vdev, const std::string& netns_path) {
  std::string iface;
  const auto parts = split(vdev, ',');
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const auto eq = parts[i].find('=');
    const std::string key = parts[i].substr(0, eq);
    if (key == "iface" && eq != std::string::npos) {
      iface = parts[i].substr(eq + 1);
      continue;
    }
    return make_error(EINVAL, "vdev '" + vdev + "': '" + parts[i] +
                                  "' is an option of DPDK's af_packet driver; net_af_packet vdevs run on DMM's own "
                                  "AF_PACKET port, which takes iface= only (backends/dpdk_lwip/README.md)");
  }
  if (iface.empty()) return make_error(EINVAL, "vdev '" + vdev + "': net_af_packet needs iface=INTERFACE");
  auto port = PacketRingPort::open(iface, netns_path);
  if (!port) return make_error(port.error().code, "vdev '" + vdev + "': " + port.error().message);
  return std::unique_ptr<FramePort>(std::move(*port));
}

}  // namespace

Result<std::unique_ptr<FramePort>> open_frame_port(const std::string& vdev, const std::string& netns_path) {
  if (vdev.rfind("net_af_packet", 0) == 0) return open_af_packet(vdev, netns_path);
  auto environment = DpdkEnvironment::get();  // DPDK's EAL: only for ports DPDK drives
  if (!environment) return environment.error();
  auto port = DpdkPort::open(vdev, netns_path);
  if (!port) return port.error();
  return std::unique_ptr<FramePort>(std::move(*port));
}

}  // namespace dmm::lwip_dpdk
