#pragma once
// Collects what a run does and writes the results directory (DESIGN.md §2.2). No ns-3 here.
// Output is a pure function of the recorded values: same seed, same scenario => byte-identical files.
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dmm/policy.hpp"
#include "dmm/policy_algorithm.hpp"
#include "run/provenance.hpp"
#include "scenario/results.hpp"
#include "scenario/scenario.hpp"

namespace dmm::sim {

struct EventRecord {
  TimePoint time{0};
  std::string event;   // link | stack | nrd (scenario events) | local_health (a node's circuit breaker)
  std::string target;
  std::string detail;
};

struct MetricsRecord {
  TimePoint time{0};
  StackEstimate estimate;
};

// Per-stack totals for the summary table and summary.json.
struct StackTotals {
  std::string stack;
  std::uint64_t sessions = 0;
  double share = 0;
  ByteCount bytes = 0;            // offered and read by the client applications: bytes_sent + bytes_received
  ByteCount bytes_delivered = 0;  // what arrived (sessions.csv bytes_delivered, summed)
  double delivered_mbps = 0;      // bytes_delivered * 8 / run duration (summary.json's goodput_mbps is this too)
  std::uint64_t sessions_bytes_unknown = 0;  // command runs among `sessions`: not in the byte figures
};

struct RunTiming {
  std::uint64_t sim_events = 0;
  double wall_s = 0;
  // Set when the run was stopped early (Ctrl-C): the simulated time it reached. The files then hold what
  // happened until then, summary.json says `"partial": true`, and no expectation is judged.
  std::optional<double> interrupted_at_s;
};

class Recorder {
public:
  explicit Recorder(const scenario::Scenario& scenario) : scenario_(scenario) {}

  void session(scenario::SessionRecord record) { sessions_.push_back(std::move(record)); }
  // Sessions are recorded when they end; the files list them by id (creation order).
  void sort_sessions();
  void policy(const Policy& policy);
  void metrics(TimePoint time, const StackEstimates& estimates);
  void event(EventRecord record) { events_.push_back(std::move(record)); }

  const std::vector<scenario::SessionRecord>& sessions() const { return sessions_; }
  const std::vector<scenario::PolicyRecord>& policies() const { return policy_records_; }
  std::vector<StackTotals> stack_totals() const;

  // Writes sessions.csv, metrics.csv, policy.jsonl, events.csv and summary.json into `dir` (created).
  // With `invocation`, summary.json also says where and when the run was made (the volatile `invocation`).
  Status write(const std::filesystem::path& dir, const std::vector<scenario::ExpectationResult>& expectations,
               const RunTiming& timing, const Invocation* invocation = nullptr) const;
  // The session records, for what is settled once the run is over (UDP arrivals).
  std::vector<scenario::SessionRecord>& sessions_to_settle() { return sessions_; }

private:
  nlohmann::ordered_json provenance() const;

  const scenario::Scenario& scenario_;
  std::vector<scenario::SessionRecord> sessions_;
  std::vector<std::string> policy_lines_;
  std::vector<scenario::PolicyRecord> policy_records_;
  std::vector<MetricsRecord> metrics_;
  std::vector<EventRecord> events_;
};

}  // namespace dmm::sim
