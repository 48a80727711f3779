#include "dmm/path_sample.hpp"

namespace dmm {

std::optional<PathSample> progress_sample(const StackId& stack, const ConnectionMetrics& before,
                                          const ConnectionMetrics& now, TimePoint at, Duration elapsed,
                                          ByteCount min_goodput_bytes, bool final) {
  const ByteCount moved = (now.bytes_acked + now.bytes_received) - (before.bytes_acked + before.bytes_received);
  PathSample s{.stack = stack, .at = at};
  if (now.rtt.count() > 0 && moved > 0) s.rtt = now.rtt;
  if (moved >= min_goodput_bytes && moved > 0) {
    s.delivered = moved;
    s.interval = elapsed;
    const ByteCount acked = now.bytes_acked > before.bytes_acked ? now.bytes_acked - before.bytes_acked : 0;
    if (before.bytes_unsent > 0 && now.bytes_unsent > 0 && acked >= min_goodput_bytes && elapsed.count() > 0)
      s.acked_backlogged = acked;
  }
  s.segments_sent = now.segments_sent - before.segments_sent;
  s.retransmits = now.retransmits - before.retransmits;
  if (final || s.rtt || s.delivered) return s;
  return std::nullopt;
}

}  // namespace dmm
