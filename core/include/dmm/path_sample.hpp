#pragma once
// What stacks and sessions tell nRD about a path: the only inputs of estimation, the same in sim and on hardware.
#include <cstdint>
#include <optional>

#include "dmm/stack.hpp"
#include "dmm/units.hpp"

namespace dmm {

struct PathSample {
  StackId stack;
  TimePoint at{0};
  std::optional<Duration> rtt;      // a round-trip sample, when the connection has one
  ByteCount delivered = 0;          // bytes moved in `interval` (either direction)
  Duration interval{0};             // the span `delivered` was measured over
  std::uint64_t segments_sent = 0;  // in `interval`
  std::uint64_t retransmits = 0;    // in `interval`
  bool failure = false;             // a session could not be set up or died on this stack
  // Bytes of this host's sending the peer acknowledged in `interval` while the sender had unsent data at both
  // ends of it (ConnectionMetrics::bytes_unsent): a rate bound by the path and the congestion window, not by the
  // application, from which nRD estimates capacity. Zero when the sender was not backlogged throughout, when too
  // few bytes moved, or when only the peer sent (this host cannot tell whether the peer was backlogged).
  ByteCount acked_backlogged = 0;
};

// The sample a session gives between two looks at its connection (`before`, then `now`, `elapsed` apart): shared by
// nSocket and the preload shim (which reads the kernel's TCP_INFO), so both report alike. The RTT counts only when
// bytes moved (a stalled connection must not keep vouching for its path with an old RTT); goodput only when at
// least `min_goodput_bytes` moved (small exchanges are bound by RTT and slow start, not by the path's capacity);
// `acked_backlogged` likewise, and only when `before` and `now` both had unsent bytes.
// nullopt when there is nothing to say, unless `final` (a finished session always reports).
std::optional<PathSample> progress_sample(const StackId& stack, const ConnectionMetrics& before,
                                          const ConnectionMetrics& now, TimePoint at, Duration elapsed,
                                          ByteCount min_goodput_bytes, bool final);

class PathSampleSink {
public:
  virtual ~PathSampleSink() = default;
  virtual void on_sample(const PathSample& sample) = 0;
};

}  // namespace dmm
