#pragma once
// The raw AF_PACKET socket an emulated device reads and writes a veth through. Its own file: <linux/if_packet.h>
// defines PACKET_HOST & co. as macros, which break ns-3's NetDevice::PacketType wherever both are included.
#include <array>
#include <cstdint>
#include <string>

#include "dmm/result.hpp"

namespace dmm::sim::emu {

struct PacketSocket {
  int fd = -1;
  std::array<std::uint8_t, 6> mac{};  // the veth's own MAC address
};

// Bound to `interface`, all protocols, not seeing its own transmissions (PACKET_IGNORE_OUTGOING), with a receive
// buffer large enough for a burst of a fast link (4 MiB).
Result<PacketSocket> open_packet_socket(const std::string& interface);

// Frames the kernel dropped because the socket's receive buffer was full — the emulator did not read them in time
// — since the last call (PACKET_STATISTICS resets on read).
std::uint64_t packet_socket_drops(int fd);

}  // namespace dmm::sim::emu
