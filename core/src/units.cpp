// Parsers for the unit-bearing strings of scenarios and host configs. They are the boundary where a typo
// becomes a message naming the text and what was expected; past it, the core only sees typed values.
#include "dmm/units.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

namespace dmm {
namespace {

// Anything longer is a typo (a missing unit, a stray digit), not a scenario anyone means to run.
constexpr double kMaxDurationNs = 100.0 * 365.25 * 24 * 3600 * 1e9;
// 1 Pbit/s: far above any link we model; larger values are typos.
constexpr double kMaxRateBps = 1e15;
// Doubles hold every integer up to 2^53 exactly; sizes given with a fraction must stay within that.
constexpr double kMaxFractionalBytes = 9007199254740992.0;

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(kSpace);
  return s.substr(first, last - first + 1);
}

// A non-negative decimal number at the start of `text`, split from the unit that follows it.
// `integral` is set when the number has no fraction or exponent, so callers can stay exact.
struct Number {
  double value = 0;
  std::optional<std::uint64_t> integral;
  std::string_view unit;
};

enum class NumberError { none, empty, negative, not_a_number };

NumberError split_number(std::string_view text, Number& out) {
  if (text.empty()) return NumberError::empty;
  if (text.front() == '-') return NumberError::negative;
  // from_chars would accept `inf`/`nan`; a number must start with a digit or a point.
  if (!(std::isdigit(static_cast<unsigned char>(text.front())) || text.front() == '.'))
    return NumberError::not_a_number;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(begin, end, out.value, std::chars_format::fixed);
  if (ec == std::errc::result_out_of_range) {
    out.value = std::numeric_limits<double>::infinity();
  } else if (ec != std::errc{}) {
    return NumberError::not_a_number;
  }
  const std::string_view digits(begin, static_cast<std::size_t>(ptr - begin));
  if (digits.find_first_not_of("0123456789") == std::string_view::npos) {
    std::uint64_t n = 0;
    const auto r = std::from_chars(begin, ptr, n);
    if (r.ec == std::errc{}) out.integral = n;  // out of range: stays a (huge) double
  }
  out.unit = std::string_view(ptr, static_cast<std::size_t>(end - ptr));
  return NumberError::none;
}

Error invalid(std::string_view what, std::string_view text, std::string_view why) {
  std::string msg = "invalid ";
  msg.append(what).append(" '").append(text).append("': ").append(why);
  return make_error(EINVAL, std::move(msg));
}

struct UnitScale {
  std::string_view name;
  double scale;  // in the base unit (ns, bps, bytes)
};

template <std::size_t N>
std::optional<double> find_scale(const std::array<UnitScale, N>& table, std::string_view unit) {
  for (const auto& u : table)
    if (u.name == unit) return u.scale;
  return std::nullopt;
}

constexpr std::array<UnitScale, 7> kTimeUnits{{
    {"ns", 1.0}, {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}}};
constexpr std::string_view kTimeUnitList = "ns, us, ms, s, m, h";

// Shared by parse_duration and parse_per_second: a time unit's length in nanoseconds.
std::optional<std::int64_t> time_unit_ns(std::string_view unit) {
  if (auto s = find_scale(kTimeUnits, unit)) return static_cast<std::int64_t>(*s);
  return std::nullopt;
}

}  // namespace

Result<Duration> parse_duration(std::string_view raw) {
  constexpr std::string_view kWhat = "duration";
  const std::string_view text = trim(raw);
  const std::string units = "(" + std::string(kTimeUnitList) + ")";
  const std::string expected = "expected a number with a unit " + units;
  Number n;
  switch (split_number(text, n)) {
    case NumberError::none: break;
    case NumberError::negative: return invalid(kWhat, text, "must not be negative");
    default: return invalid(kWhat, text, expected);
  }
  if (n.unit.empty()) {
    if (n.value == 0) return Duration{0};  // a bare zero needs no unit
    return invalid(kWhat, text, "missing unit " + units);
  }
  const auto unit_ns = time_unit_ns(n.unit);
  if (!unit_ns)
    return invalid(kWhat, text, "unknown unit '" + std::string(n.unit) + "' " + units);
  if (!(n.value * static_cast<double>(*unit_ns) <= kMaxDurationNs))
    return invalid(kWhat, text, "larger than 100 years");
  // Integers stay exact (no detour through double); the range check above rules out overflow.
  if (n.integral) return Duration{static_cast<std::int64_t>(*n.integral) * *unit_ns};
  return Duration{std::llround(n.value * static_cast<double>(*unit_ns))};
}

Result<BitsPerSecond> parse_rate(std::string_view raw) {
  constexpr std::string_view kWhat = "rate";
  constexpr std::array<UnitScale, 5> kRateUnits{
      {{"bps", 1.0}, {"kbps", 1e3}, {"Kbps", 1e3}, {"Mbps", 1e6}, {"Gbps", 1e9}}};
  constexpr std::string_view kExpected = "expected a positive number with a unit (bps, kbps, Mbps, Gbps)";
  const std::string_view text = trim(raw);
  Number n;
  switch (split_number(text, n)) {
    case NumberError::none: break;
    case NumberError::negative: return invalid(kWhat, text, "must be positive");
    default: return invalid(kWhat, text, kExpected);
  }
  if (n.unit.empty()) return invalid(kWhat, text, "missing unit (bps, kbps, Mbps, Gbps)");
  const auto scale = find_scale(kRateUnits, n.unit);
  if (!scale) return invalid(kWhat, text, "unknown unit '" + std::string(n.unit) + "' (bps, kbps, Mbps, Gbps)");
  const double bps = n.value * *scale;
  if (!(bps > 0)) return invalid(kWhat, text, "must be positive");
  if (!(bps <= kMaxRateBps)) return invalid(kWhat, text, "larger than 1 Pbps");
  return BitsPerSecond{bps};
}

Result<ByteCount> parse_size(std::string_view raw) {
  constexpr std::string_view kWhat = "size";
  constexpr std::array<UnitScale, 9> kSizeUnits{{{"B", 1.0},
                                                 {"KB", 1e3},
                                                 {"MB", 1e6},
                                                 {"GB", 1e9},
                                                 {"TB", 1e12},
                                                 {"KiB", 1024.0},
                                                 {"MiB", 1048576.0},
                                                 {"GiB", 1073741824.0},
                                                 {"TiB", 1099511627776.0}}};
  constexpr std::string_view kExpected =
      "expected a number of bytes, optionally with a unit (B, KB, MB, GB, KiB, MiB, GiB)";
  const std::string_view text = trim(raw);
  Number n;
  switch (split_number(text, n)) {
    case NumberError::none: break;
    case NumberError::negative: return invalid(kWhat, text, "must not be negative");
    default: return invalid(kWhat, text, kExpected);
  }
  double scale = 1.0;
  if (!n.unit.empty()) {
    const auto s = find_scale(kSizeUnits, n.unit);
    if (!s) return invalid(kWhat, text, "unknown unit '" + std::string(n.unit) + "' (B, KB, MB, GB, KiB, MiB, GiB)");
    scale = *s;
  }
  if (n.integral) {
    // Every scale is an exact integer; check the product before computing it.
    const auto factor = static_cast<std::uint64_t>(scale);
    if (*n.integral > std::numeric_limits<std::uint64_t>::max() / factor)
      return invalid(kWhat, text, "too large");
    return ByteCount{*n.integral * factor};
  }
  const double bytes = n.value * scale;
  if (!(bytes <= kMaxFractionalBytes)) return invalid(kWhat, text, "too large");
  if (n.unit.empty()) return invalid(kWhat, text, "a size without a unit must be a whole number of bytes");
  return static_cast<ByteCount>(std::llround(bytes));
}

Result<double> parse_probability(std::string_view raw) {
  constexpr std::string_view kWhat = "probability";
  constexpr std::string_view kExpected = "expected a number between 0 and 1";
  const std::string_view text = trim(raw);
  Number n;
  switch (split_number(text, n)) {
    case NumberError::none: break;
    case NumberError::negative: return invalid(kWhat, text, kExpected);
    default: return invalid(kWhat, text, kExpected);
  }
  if (!n.unit.empty() || !(n.value >= 0.0 && n.value <= 1.0)) return invalid(kWhat, text, kExpected);
  return n.value;
}

Result<double> parse_per_second(std::string_view raw) {
  constexpr std::string_view kWhat = "event rate";
  const std::string expected =
      "expected a positive number of events per time unit, e.g. 50/s (units: " + std::string(kTimeUnitList) + ")";
  const std::string_view text = trim(raw);
  Number n;
  switch (split_number(text, n)) {
    case NumberError::none: break;
    case NumberError::negative: return invalid(kWhat, text, "must be positive");
    default: return invalid(kWhat, text, expected);
  }
  if (n.unit.size() < 2 || n.unit.front() != '/') return invalid(kWhat, text, expected);
  const auto unit_ns = time_unit_ns(n.unit.substr(1));
  if (!unit_ns) return invalid(kWhat, text, "unknown unit '" + std::string(n.unit.substr(1)) + "' (" + std::string(kTimeUnitList) + ")");
  const double per_second = n.value * (1e9 / static_cast<double>(*unit_ns));
  if (!(per_second > 0)) return invalid(kWhat, text, "must be positive");
  if (!std::isfinite(per_second)) return invalid(kWhat, text, "too large");
  return per_second;
}

std::string format_duration(Duration d) {
  // The largest unit that shows `d` exactly, so parse_duration(format_duration(d)) == d.
  constexpr std::array<std::pair<std::string_view, std::int64_t>, 6> kUnits{{{"h", 3'600'000'000'000},
                                                                             {"m", 60'000'000'000},
                                                                             {"s", 1'000'000'000},
                                                                             {"ms", 1'000'000},
                                                                             {"us", 1'000},
                                                                             {"ns", 1}}};
  const std::int64_t ns = d.count();
  if (ns == 0) return "0s";
  for (const auto& [name, scale] : kUnits) {
    if (ns % scale == 0) return std::to_string(ns / scale) + std::string(name);
  }
  return std::to_string(ns) + "ns";  // unreachable: every count is a multiple of 1 ns
}

}  // namespace dmm
