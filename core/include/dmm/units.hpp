#pragma once
// Units the whole project speaks: time as std::chrono, sizes in bytes, rates in bits per second.
// Parsers accept the scenario/config spelling (`250ms`, `100Mbps`, `64KiB`) and say what is wrong otherwise.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "dmm/result.hpp"

namespace dmm {

using Duration = std::chrono::nanoseconds;
// Time since the Executor started (simulation time 0 in sim, process start on hardware).
using TimePoint = std::chrono::nanoseconds;
using ByteCount = std::uint64_t;

struct BitsPerSecond {
  double value = 0;
  friend bool operator==(BitsPerSecond, BitsPerSecond) = default;
};

inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline double to_millis(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
inline Duration from_seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

// `250ms`, `10s`, `2m`, `1h`, `500us`, `100ns`; a bare `0` is zero. Negative values are rejected.
Result<Duration> parse_duration(std::string_view text);
// `100Mbps`, `1Gbps`, `64kbps`, `1500bps`.
Result<BitsPerSecond> parse_rate(std::string_view text);
// `64KiB`, `10MB`, `200B`, `1GiB`, `1500` (bytes).
Result<ByteCount> parse_size(std::string_view text);
// a number in [0, 1].
Result<double> parse_probability(std::string_view text);
// `50/s`, `2/ms`: events per second.
Result<double> parse_per_second(std::string_view text);

std::string format_duration(Duration d);

}  // namespace dmm
