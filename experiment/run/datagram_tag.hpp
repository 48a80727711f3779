#pragma once
// The tag at the front of every datagram a UDP workload sends: which session it belongs to, its sequence number
// and when the application sent it. The receiving side reads the tags to measure what arrived (delivered bytes,
// loss, one-way delay, jitter), as iperf3 does for UDP; the sender's own counts only say what was offered.
// The tag is part of the payload (it counts in bytes_sent and bytes_delivered alike). No ns-3 here.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "dmm/units.hpp"

namespace dmm::sim {

struct DatagramTag {
  std::uint64_t session = 0;  // the workload session id (sessions.csv `session`)
  std::uint64_t sequence = 0;  // 0, 1, 2, ... per session
  TimePoint sent_at{0};        // when the application handed the datagram to its stack
  std::uint32_t length = 0;    // the whole datagram, tag included
};

// magic (4) + length (4) + session (8) + sequence (8) + sent_at in ns (8), little-endian.
inline constexpr std::size_t kDatagramTagBytes = 32;

// Writes `tag` into the first kDatagramTagBytes of `datagram` (which must be at least that long; `tag.length`
// is taken from its size).
void write_datagram_tag(std::span<std::byte> datagram, DatagramTag tag);

// Reads tags back from what a receiver gets. A stack may hand several datagrams over in one read (the simulated
// one concatenates them; they always arrive whole), so this parses a byte stream in which every datagram says
// its own length. Bytes that do not start with a tag (another application's traffic) end the parsing: the rest
// of the stream is counted in untagged_bytes() and ignored.
class DatagramTagReader {
public:
  using OnDatagram = std::function<void(const DatagramTag&)>;
  explicit DatagramTagReader(OnDatagram on_datagram) : on_datagram_(std::move(on_datagram)) {}
  void feed(std::span<const std::byte> bytes);
  ByteCount untagged_bytes() const { return untagged_; }

private:
  OnDatagram on_datagram_;
  std::vector<std::byte> header_;  // a tag split across reads
  std::uint64_t skip_ = 0;         // payload bytes of the current datagram still to pass
  bool lost_sync_ = false;
  ByteCount untagged_ = 0;
};

}  // namespace dmm::sim
