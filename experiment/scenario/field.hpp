#pragma once
// Typed reads of YAML nodes for the scenario loader. Each read either returns a checked value or throws
// yaml::Failure at the node with `PATH: what is wrong`, where PATH is the dotted path that `--set` accepts
// (`topology.links.wan-a.delay`), so a message says both where in the file and where in the structure.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dmm/policy.hpp"
#include "dmm/units.hpp"
#include "scenario/yaml_tree.hpp"

namespace dmm::scenario {

// A node and the path that led to it.
struct Field {
  const yaml::Node* node = nullptr;
  std::string path;

  const yaml::Node& operator*() const { return *node; }
  const yaml::Node* operator->() const { return node; }
  [[noreturn]] void fail(std::string_view what) const;
  // The items of a list (a null means an empty list); fails on anything else. Items are named by their `name:`
  // when they have one (`stacks.fast`), else by their index (`events.2`).
  std::vector<Field> items() const;
};

// A map whose keys are checked against what the schema allows.
class MapReader {
public:
  // Fails unless `field` is a map (`what` names it in the message: "a link", "the nrd section").
  MapReader(Field field, std::string_view what);
  // Fails at the first key not in `allowed`, naming it and listing the allowed ones; `context` is appended to
  // the message (`" for a bulk workload"`).
  void allow(std::initializer_list<std::string_view> allowed, std::string_view context = {}) const;
  void allow(const std::vector<std::string>& allowed, std::string_view context = {}) const;

  bool has(std::string_view key) const;
  std::optional<Field> get(std::string_view key) const;
  Field require(std::string_view key) const;  // fails at the map when the key is missing
  const Field& field() const { return field_; }
  // Where the key itself is written (for "this key does not belong here" messages).
  yaml::Where key_where(std::string_view key) const;

private:
  Field field_;
  std::string what_;
};

// Comma-separated, clipped after `max` names: for "unknown node 'x' (nodes: a, b, c)".
std::string join_names(const std::vector<std::string>& names, std::size_t max = 20);

std::string read_text(const Field& f);   // any scalar, as written
// A name: 1..64 of [A-Za-z0-9_-], starting with a letter or digit. Names end up in CSV columns, file names and
// `--set` paths (which split on dots), so they stay plain.
std::string read_name(const Field& f);
bool read_bool(const Field& f);          // true / false
std::uint64_t read_uint(const Field& f, std::uint64_t min, std::uint64_t max);
double read_number(const Field& f);      // finite decimal number
Duration read_duration(const Field& f);  // unit required (a bare 0 is fine)
BitsPerSecond read_rate(const Field& f);
ByteCount read_size(const Field& f);     // unit required (a bare 0 is fine)
double read_probability(const Field& f);
double read_per_second(const Field& f);  // `50/s`
PortRange read_ports(const Field& f);     // `80` or `8000-8100` (1..65535, lower first)
// A policy rule's `race` (staggered, failover, simultaneous) and `attempt_delay` (auto or 10ms..10s), read into
// `rule` when present: the same keys and checks in a scenario's policy and a host config's.
void read_race(const MapReader& m, Rule& rule);

}  // namespace dmm::scenario
