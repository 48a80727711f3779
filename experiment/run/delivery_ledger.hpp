#pragma once
// What the receiving side of the run's UDP sessions saw, per session: filled by the workload servers from the
// datagram tags, read once the run is over (datagrams may still be arriving after their sender stopped), and
// folded into the session records. No ns-3 here.
#include <cstdint>
#include <map>
#include <vector>

#include "dmm/units.hpp"
#include "run/datagram_tag.hpp"
#include "scenario/results.hpp"

namespace dmm::sim {

struct UdpArrivals {
  ByteCount bytes = 0;         // datagram payloads that reached the receiving application, tags included
  std::uint64_t datagrams = 0;
  Duration delay_sum{0};       // sum of one-way delays (application to application)
  // RFC 3550 interarrival jitter, in arrival order: J += (|D| - J) / 16, D the change in one-way delay between
  // consecutive datagrams. Kept in seconds as a double: the 1/16 steps need fractions of a nanosecond.
  double jitter_s = 0;
  Duration last_transit{0};
};

class DeliveryLedger {
public:
  void arrived(const DatagramTag& tag, TimePoint now);
  const UdpArrivals* find(std::uint64_t session) const;

private:
  std::map<std::uint64_t, UdpArrivals> sessions_;
};

// Fills each UDP session's receive-side fields from `ledger` (bytes_delivered, loss, owd, jitter) and settles
// its completion: a UDP session is completed when its sender ran its whole `on` period without an error *and*
// at least one of its datagrams reached the receiver by the end of the run; one that sent for its whole period
// but none of whose datagrams arrived is not ("no datagram arrived", counted as failed). TCP records are left
// as they are (their bytes_delivered is set when they end).
void settle_udp_sessions(std::vector<scenario::SessionRecord>& sessions, const DeliveryLedger& ledger);

inline constexpr const char* kNoDatagramArrived = "no datagram arrived";

}  // namespace dmm::sim
