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

// How nSocket tries a rule's ranked stacks when a session is set up (RFC 8305's and RFC 9623's racing modes,
// across stack instances). The first attempt to connect wins; the others are cancelled and closed at once.
enum class RaceMode : std::uint8_t {
  staggered,     // start the next ranked stack when the previous attempt has not connected after the attempt
                 // delay, or at once when it failed
  failover,      // the next ranked stack only after the previous attempt failed or timed out
  simultaneous,  // every ranked healthy stack at once
};
std::string_view to_string(RaceMode mode);
std::optional<RaceMode> parse_race_mode(std::string_view text);

// RFC 8305's bounds on a connection attempt delay; `auto` clamps into them.
inline constexpr Duration kMinAttemptDelay = std::chrono::milliseconds(100);
inline constexpr Duration kMaxAttemptDelay = std::chrono::seconds(2);
// RFC 8305's recommended delay: what `auto` uses while there is no RTT estimate of the stack waited on.
inline constexpr Duration kFallbackAttemptDelay = std::chrono::milliseconds(250);
// `auto`: this many round-trip times of the stack waited on. A handshake is one RTT; an attempt that has taken
// twice the smoothed RTT is late enough that starting another costs less than waiting on.
inline constexpr int kAutoDelayRtts = 2;

// The attempt delay of a staggered race: fixed, or `auto` (nullopt) — from nRD's RTT estimate of the stack being
// waited on, kAutoDelayRtts x RTT clamped to [kMinAttemptDelay, kMaxAttemptDelay], kFallbackAttemptDelay without
// an estimate.
using AttemptDelay = std::optional<Duration>;
std::string format_attempt_delay(const AttemptDelay& delay);  // `auto`, `250ms`
// Fixed delays allowed: RFC 8305's floor (10 ms) up to 10 s (above its 2 s ceiling, for studies of slow paths).
inline constexpr Duration kFixedAttemptDelayMin = std::chrono::milliseconds(10);
inline constexpr Duration kFixedAttemptDelayMax = std::chrono::seconds(10);
// `auto` or a duration in [kFixedAttemptDelayMin, kFixedAttemptDelayMax]; EINVAL saying what is wrong.
Result<AttemptDelay> parse_attempt_delay(std::string_view text);
// The delay an attempt on a stack with RTT estimate `rtt` (nullopt: none) waits before the next one starts.
Duration resolve_attempt_delay(const AttemptDelay& delay, std::optional<Duration> rtt);

struct Rule {
  Match match;
  std::vector<StackId> use;  // ranked: first healthy wins
  RaceMode race = RaceMode::staggered;
  AttemptDelay attempt_delay;  // nullopt: auto
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

// One line of policy.jsonl: {"version","time_s","reason","rules":[{"match":{...},"use":[...]}],"down":[...]}; a
// rule that does not race as by default adds "race" and/or "attempt_delay" ("failover", "300ms").
std::string to_json_line(const Policy& policy);
std::string describe(const Match& match);  // `dst=10.0.0.0/8 port=80 proto=tcp intent=latency`, `*` if empty

}  // namespace dmm
