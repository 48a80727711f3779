#pragma once
// What a run produced, in memory: the rows of sessions.csv and policy.jsonl, and the expectation verdicts.
// Shared by the simulator (which fills it), the expectation checker and the bindings.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dmm/policy.hpp"
#include "dmm/units.hpp"
#include "scenario/scenario.hpp"

namespace dmm::scenario {

struct SessionRecord {
  std::uint64_t session = 0;
  std::string workload;
  std::string node;
  std::string dst;   // destination node name
  std::uint16_t port = 0;
  Intent intent = Intent::default_;
  std::string stack;  // empty if no stack ever carried it
  std::int32_t rule = -1;
  PolicyVersion policy_version = 0;
  TimePoint start{0};
  TimePoint end{0};
  ByteCount bytes_sent = 0;      // handed to the stack by the client application (offered)
  ByteCount bytes_received = 0;  // read by the client application
  bool completed = false;
  std::string error;
  // Measured where the data arrived (DESIGN.md §2.2: figures count delivered bytes, not offered ones).
  // TCP: bytes the server's stack acknowledged (what the client's stack delivered) + bytes the client read.
  // UDP: datagram bytes that reached the receiving application + bytes the client read.
  ByteCount bytes_delivered = 0;
  L4Proto proto = L4Proto::tcp;
  std::uint64_t datagrams_sent = 0;  // UDP
  std::optional<double> loss;        // UDP: 1 - datagrams arrived / sent (in flight at the end = lost)
  std::optional<Duration> owd;       // UDP: mean one-way delay of the datagrams that arrived
  std::optional<Duration> jitter;    // UDP: RFC 3550 interarrival jitter (at least two datagrams arrived)
  // A `kind: command` run: its program's sessions bypass the run's nSockets, so what they carried is not known
  // (the bytes columns are written empty, never as 0).
  bool bytes_unknown = false;

  // Still open when the run ended: not failed, not finished either; `end` is not an end (written empty).
  bool unfinished() const;
  std::string attempts;  // the stacks nSocket considered, `fast:lost;slow:ok@250ms` (format_attempts)
  AttemptCounts attempt_counts;  // the same trail counted, for summary.json's `attempts`
};

// The `error` of a session still open when the run ended: not a failure, just unfinished.
inline constexpr const char* kUnfinished = "unfinished at end of run";
inline bool SessionRecord::unfinished() const { return error == kUnfinished; }

struct PolicyRecord {
  PolicyVersion version = 0;
  TimePoint time{0};
};

struct ExpectationResult {
  std::string text;
  bool passed = false;
  std::string detail;  // the measured value, e.g. "share 0.96 (48/50)"
};

// Checks every `expect:` entry against the run's sessions and policy versions.
std::vector<ExpectationResult> evaluate(const Scenario& scenario, const std::vector<SessionRecord>& sessions,
                                        const std::vector<PolicyRecord>& policies);

}  // namespace dmm::scenario
