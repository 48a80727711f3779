#include "run/delivery_ledger.hpp"

#include <cmath>

namespace dmm::sim {

void DeliveryLedger::arrived(const DatagramTag& tag, TimePoint now) {
  UdpArrivals& a = sessions_[tag.session];
  const Duration transit = now - tag.sent_at;
  if (a.datagrams > 0) {
    const double change = std::abs(to_seconds(transit - a.last_transit));
    a.jitter_s += (change - a.jitter_s) / 16.0;
  }
  a.last_transit = transit;
  a.delay_sum += transit;
  a.bytes += tag.length;
  ++a.datagrams;
}

const UdpArrivals* DeliveryLedger::find(std::uint64_t session) const {
  const auto it = sessions_.find(session);
  return it == sessions_.end() ? nullptr : &it->second;
}

void settle_udp_sessions(std::vector<scenario::SessionRecord>& sessions, const DeliveryLedger& ledger) {
  for (auto& s : sessions) {
    if (s.proto != L4Proto::udp) continue;
    const UdpArrivals* a = ledger.find(s.session);
    const UdpArrivals none;
    if (a == nullptr) a = &none;
    s.bytes_delivered = a->bytes + s.bytes_received;
    if (s.datagrams_sent > 0) {
      const double arrived = std::min<double>(double(a->datagrams), double(s.datagrams_sent));
      s.loss = 1.0 - arrived / double(s.datagrams_sent);
    }
    if (a->datagrams > 0) s.owd = a->delay_sum / static_cast<std::int64_t>(a->datagrams);
    if (a->datagrams > 1) s.jitter = from_seconds(a->jitter_s);
    if (s.completed && a->datagrams == 0) {
      s.completed = false;
      s.error = kNoDatagramArrived;
    }
  }
}

}  // namespace dmm::sim
