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
};

class PathSampleSink {
public:
  virtual ~PathSampleSink() = default;
  virtual void on_sample(const PathSample& sample) = 0;
};

}  // namespace dmm
