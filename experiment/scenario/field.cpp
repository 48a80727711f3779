#include "scenario/field.hpp"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>

namespace dmm::scenario {

void Field::fail(std::string_view what) const {
  yaml::fail(node->where, (path.empty() ? std::string() : path + ": ") + std::string(what));
}

std::vector<Field> Field::items() const {
  if (node->is_null()) return {};
  if (!node->is_sequence()) fail("expected a list, got " + yaml::describe(*node));
  std::vector<Field> out;
  out.reserve(node->items.size());
  for (std::size_t i = 0; i < node->items.size(); ++i) {
    const yaml::Node& item = *node->items[i];
    std::string label = std::to_string(i);
    if (item.is_map()) {
      const yaml::Entry* name = item.find("name");
      if (name && name->value->is_scalar() && !name->value->text.empty() &&
          name->value->text.find('.') == std::string::npos && name->value->text.size() <= 64)
        label = name->value->text;
    }
    out.push_back(Field{&item, path + "." + label});
  }
  return out;
}

std::string join_names(const std::vector<std::string>& names, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < max; ++i) {
    if (i) out += ", ";
    out += names[i];
  }
  if (names.size() > max) out += ", ... (" + std::to_string(names.size() - max) + " more)";
  if (names.empty()) out = "none";
  return out;
}

MapReader::MapReader(Field field, std::string_view what) : field_(std::move(field)), what_(what) {
  if (!field_->is_map()) field_.fail("expected " + what_ + " (a map of keys), got " + yaml::describe(*field_));
}

void MapReader::allow(std::initializer_list<std::string_view> allowed, std::string_view context) const {
  allow(std::vector<std::string>(allowed.begin(), allowed.end()), context);
}

void MapReader::allow(const std::vector<std::string>& allowed, std::string_view context) const {
  for (const auto& entry : field_->entries) {
    if (std::find(allowed.begin(), allowed.end(), entry.key) != allowed.end()) continue;
    const std::string where = field_.path.empty() ? std::string() : field_.path + ": ";
    yaml::fail(entry.key_where, where + "unknown key '" + entry.key + "'" + std::string(context) +
                                    " (allowed: " + join_names(allowed, 64) + ")");
  }
}

bool MapReader::has(std::string_view key) const { return field_->find(key) != nullptr; }

std::optional<Field> MapReader::get(std::string_view key) const {
  const yaml::Entry* entry = field_->find(key);
  if (!entry) return std::nullopt;
  std::string path = field_.path.empty() ? std::string(key) : field_.path + "." + std::string(key);
  return Field{entry->value.get(), std::move(path)};
}

Field MapReader::require(std::string_view key) const {
  auto f = get(key);
  if (!f) field_.fail("missing required key '" + std::string(key) + "' in " + what_);
  return *f;
}

yaml::Where MapReader::key_where(std::string_view key) const {
  const yaml::Entry* entry = field_->find(key);
  return entry ? entry->key_where : field_->where;
}

std::string read_text(const Field& f) {
  if (!f->is_scalar()) f.fail("expected text, got " + yaml::describe(*f));
  return f->text;
}

std::string read_name(const Field& f) {
  if (!f->is_scalar()) f.fail("expected a name, got " + yaml::describe(*f));
  const std::string& s = f->text;
  const auto ok_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  };
  if (s.empty() || s.size() > 64 || !std::all_of(s.begin(), s.end(), ok_char) || s.front() == '-' ||
      s.front() == '_')
    f.fail("invalid name " + yaml::describe(*f) +
           ": use 1 to 64 letters, digits, '-' or '_', starting with a letter or digit");
  return s;
}

bool read_bool(const Field& f) {
  if (f->is_scalar() && !f->quoted) {
    const std::string& s = f->text;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  f.fail("expected true or false, got " + yaml::describe(*f));
}

std::uint64_t read_uint(const Field& f, std::uint64_t min, std::uint64_t max) {
  const std::string range = max == UINT64_MAX ? std::to_string(min) + " or more"
                                              : std::to_string(min) + " to " + std::to_string(max);
  if (!f->is_scalar()) f.fail("expected a whole number (" + range + "), got " + yaml::describe(*f));
  const std::string& s = f->text;
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ptr != s.data() + s.size() || ec == std::errc::invalid_argument)
    f.fail("expected a whole number (" + range + "), got " + yaml::describe(*f));
  if (ec == std::errc::result_out_of_range || value < min || value > max)
    f.fail(s + " is out of range (" + range + ")");
  return value;
}

double read_number(const Field& f) {
  if (!f->is_scalar()) f.fail("expected a number, got " + yaml::describe(*f));
  const std::string& s = f->text;
  double value = 0;
  // `general` accepts 0.2, 1e-3, -4; from_chars never accepts inf/nan spelled as words without the check below.
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value, std::chars_format::general);
  if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size() || !std::isfinite(value))
    f.fail("expected a number, got " + yaml::describe(*f));
  return value;
}

namespace {

// Text of a unit-bearing value; `30` alone is ambiguous (seconds? milliseconds?), so a bare number other than
// zero is refused with the units that would make it clear.
std::string unit_text(const Field& f, std::string_view what, std::string_view units, std::string_view example) {
  if (!f->is_scalar()) f.fail("expected a " + std::string(what) + " such as " + std::string(example) + ", got " +
                              yaml::describe(*f));
  const std::string& s = f->text;
  const bool bare_number =
      !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos && std::isdigit(static_cast<unsigned char>(s.front()));
  if (bare_number && s.find_first_not_of("0.") != std::string::npos)
    f.fail(std::string(what) + " '" + s + "' needs a unit (" + std::string(units) + "), e.g. " + std::string(example));
  return s;
}

template <typename T>
T value_or_fail(const Field& f, Result<T> r) {
  if (!r) f.fail(r.error().message);
  return std::move(r).value();
}

}  // namespace

Duration read_duration(const Field& f) {
  return value_or_fail(f, parse_duration(unit_text(f, "duration", "ns, us, ms, s, m, h", "250ms")));
}

BitsPerSecond read_rate(const Field& f) {
  return value_or_fail(f, parse_rate(unit_text(f, "rate", "bps, kbps, Mbps, Gbps", "100Mbps")));
}

ByteCount read_size(const Field& f) {
  return value_or_fail(f, parse_size(unit_text(f, "size", "B, KB, MB, GB, KiB, MiB, GiB", "64KiB")));
}

double read_probability(const Field& f) {
  if (!f->is_scalar()) f.fail("expected a probability (0 to 1), got " + yaml::describe(*f));
  return value_or_fail(f, parse_probability(f->text));
}

double read_per_second(const Field& f) {
  if (!f->is_scalar()) f.fail("expected a rate of events such as 50/s, got " + yaml::describe(*f));
  return value_or_fail(f, parse_per_second(f->text));
}

void read_race(const MapReader& m, Rule& rule) {
  if (auto r = m.get("race")) {
    const std::string text = read_text(*r);
    const auto mode = parse_race_mode(text);
    if (!mode) r->fail("unknown race '" + text + "' (staggered, failover, simultaneous)");
    rule.race = *mode;
  }
  if (auto d = m.get("attempt_delay")) {
    auto delay = parse_attempt_delay(read_text(*d));
    if (!delay) d->fail(delay.error().message);
    rule.attempt_delay = *delay;
  }
}

PortRange read_ports(const Field& f) {
  auto range = PortRange::parse(read_text(f));
  if (!range) f.fail(range.error().message);
  return *range;
}

}  // namespace dmm::scenario
