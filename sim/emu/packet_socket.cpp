#include "emu/packet_socket.hpp"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dmm::sim::emu {

Result<PacketSocket> open_packet_socket(const std::string& interface) {
  const int fd = ::socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) return make_error(errno, "socket(AF_PACKET) for " + interface + ": " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::close(fd);
    return make_error(err, what + " " + interface + ": " + std::strerror(err));
  };
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd, SIOCGIFINDEX, &ifr) != 0) return fail("no interface");
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_protocol = htons(ETH_P_ALL);
  ll.sll_ifindex = ifr.ifr_ifindex;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ll), sizeof ll) != 0) return fail("cannot bind to");
  const int one = 1;
  if (::setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0)
    return fail("PACKET_IGNORE_OUTGOING on");
  // Room for bursts: a 100 Mbit/s link's host sends its congestion window at once (the default is ~200 KiB).
  // Frames dropped when even this is full are counted (packet_socket_drops) and make the run invalid.
  const int buffer = 4 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0 &&
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer) != 0)
    return fail("SO_RCVBUF on");
  // The emulated device takes the veth's own MAC: the real host's ARP then names a MAC the kernel hands to the veth
  // as its own, with no promiscuous mode needed.
  if (::ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) return fail("no MAC address on");
  PacketSocket s;
  s.fd = fd;
  std::memcpy(s.mac.data(), ifr.ifr_hwaddr.sa_data, 6);
  return s;
}

std::uint64_t packet_socket_drops(int fd) {
  tpacket_stats stats{};
  socklen_t length = sizeof stats;
  if (::getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &length) != 0) return 0;
  return stats.tp_drops;
}

}  // namespace dmm::sim::emu
