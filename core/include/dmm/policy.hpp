#pragma once
// A Policy is an immutable, versioned, ordered rule list: the first rule whose match fits a session decides,
// and its `use` list ranks the stack instances that may carry the session.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dmm/address.hpp"
#include "dmm/result.hpp"
#include "dmm/session.hpp"
#include "dmm/stack.hpp"
#include "dmm/units.hpp"

namespace dmm {

using PolicyVersion = std::uint64_t;

struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 65535;
  bool contains(std::uint16_t p) const { return p >= first && p <= last; }
  bool exact() const { return first == last; }
  // `80` or `8000-8100` (1..65535, lower first); EINVAL saying what is wrong.
  static Result<PortRange> parse(std::string_view text);
  std::string to_string() const;  // the same spelling
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

// An absent field matches everything.
struct Match {
  std::optional<IpPrefix> dst;
  std::optional<PortRange> ports;
  std::optional<L4Proto> proto;
  std::optional<Intent> intent;
  bool matches(const SessionRequest& r) const;
  friend bool operator==(const Match&, const Match&) = default;
};

struct Rule {
  Match match;
  std::vector<StackId> use;  // ranked: first healthy wins
  friend bool operator==(const Rule&, const Rule&) = default;
};

// The most stacks one rule may rank; keeps a decision allocation-free.
inline constexpr std::size_t kMaxRankedStacks = 16;

struct Policy {
  PolicyVersion version = 1;
  std::vector<Rule> rules;
  std::vector<StackId> down;  // stacks nRD considers unhealthy: skipped while another in the list is healthy
  TimePoint time{0};          // when it was decided
  std::string reason;         // why it was published, for people
};

// Same rules and same down-set (version, time and reason aside): nRD publishes only when this is false.
bool same_decisions(const Policy& a, const Policy& b);

// Well-formed: version >= 1, every rule names 1..kMaxRankedStacks stacks, each known and listed once,
// port ranges ordered, prefixes in range. `known` is every stack instance name the receiver can use.
Status validate(const Policy& policy, const std::vector<StackId>& known);

// One line of policy.jsonl: {"version","time_s","reason","rules":[{"match":{...},"use":[...]}],"down":[...]}.
std::string to_json_line(const Policy& policy);
std::string describe(const Match& match);  // `dst=10.0.0.0/8 port=80 proto=tcp intent=latency`, `*` if empty

}  // namespace dmm
