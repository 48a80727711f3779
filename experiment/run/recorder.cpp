#include "run/recorder.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "run/build_info.hpp"

namespace dmm::sim {
namespace {

// Fixed formatting keeps the files byte-identical across runs and platforms' default stream states.
std::string num(double v, int digits = 6) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// CSV cells never contain commas, quotes or newlines in our data, except free text: quote that.
std::string cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c == '\n' ? ' ' : c;
  }
  return out + "\"";
}

// A byte count, or an empty cell where it is not known (a command's run).
std::string bytes(const scenario::SessionRecord& s, ByteCount n) { return s.bytes_unknown ? "" : std::to_string(n); }

constexpr const char* kScenarioCopy = "scenario.yaml";

nlohmann::ordered_json invocation_json(const Invocation& inv) {
  return {{"tool", inv.tool},
          {"command_line", inv.command_line},
          {"working_directory", inv.working_directory},
          {"started_utc", inv.started_utc},
          {"host", {{"hostname", inv.host.hostname}, {"kernel", inv.host.kernel}, {"machine", inv.host.machine},
                    {"cpus", inv.host.cpus}}}};
}

Status write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) return make_error(EIO, "cannot write " + path.string());
  return {};
}

}  // namespace

void Recorder::sort_sessions() {
  std::sort(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) { return a.session < b.session; });
}

void Recorder::policy(const Policy& policy) {
  policy_lines_.push_back(to_json_line(policy));
  policy_records_.push_back({policy.version, policy.time});
}

void Recorder::metrics(TimePoint time, const StackEstimates& estimates) {
  for (const auto& e : estimates) metrics_.push_back({time, e});
}

// What determines the results, and nothing that varies between runs of the same inputs and build.
nlohmann::ordered_json Recorder::provenance() const {
  const BuildInfo& b = build_info();
  nlohmann::ordered_json p;
  p["dmm_version"] = b.version;
  p["git_commit"] = b.git_commit.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(b.git_commit);
  p["git_dirty"] = b.git_dirty;
  p["ns3_version"] = b.ns3_version;
  p["scenario_file"] = scenario_.file;
  p["scenario_copy"] = kScenarioCopy;
  p["overrides"] = scenario_.overrides;
  p["seed_option"] = scenario_.seed_option ? nlohmann::ordered_json(*scenario_.seed_option) : nlohmann::ordered_json();
  return p;
}

std::vector<StackTotals> Recorder::stack_totals() const {
  std::map<std::string, StackTotals> by_stack;
  for (const auto& s : scenario_.stacks) by_stack[s.name].stack = s.name;
  std::uint64_t carried = 0;
  for (const auto& s : sessions_) {
    if (s.stack.empty()) continue;
    auto& t = by_stack[s.stack];
    t.stack = s.stack;
    ++t.sessions;
    ++carried;
    if (s.bytes_unknown) {
      ++t.sessions_bytes_unknown;
      continue;
    }
    t.bytes += s.bytes_sent + s.bytes_received;
    t.bytes_delivered += s.bytes_delivered;
  }
  std::vector<StackTotals> out;
  const double seconds = to_seconds(scenario_.duration);
  for (auto& [name, t] : by_stack) {
    t.share = carried ? double(t.sessions) / double(carried) : 0;
    t.delivered_mbps = seconds > 0 ? double(t.bytes_delivered) * 8 / seconds / 1e6 : 0;
    out.push_back(t);
  }
  return out;
}

Status Recorder::write(const std::filesystem::path& dir, const std::vector<scenario::ExpectationResult>& expectations,
                       const RunTiming& timing, const Invocation* invocation) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(EIO, "cannot create results directory " + dir.string() + ": " + ec.message());

  // Columns are only ever appended (DESIGN.md §2.2); the ones after `error` are measured where data arrived.
  std::string sessions =
      "session,workload,node,dst,port,intent,stack,rule,policy_version,start_s,end_s,bytes_sent,bytes_received,"
      "completed,error,bytes_delivered,loss,owd_ms,jitter_ms,attempts\n";
  for (const auto& s : sessions_) {
    sessions += std::to_string(s.session) + "," + cell(s.workload) + "," + cell(s.node) + "," + cell(s.dst) + "," +
                (s.port == 0 ? "" : std::to_string(s.port)) + "," + std::string(to_string(s.intent)) + "," + cell(s.stack) + "," +
                std::to_string(s.rule) + "," + std::to_string(s.policy_version) + "," +
                num(to_seconds(s.start)) + "," + (s.unfinished() ? "" : num(to_seconds(s.end))) + "," +
                bytes(s, s.bytes_sent) + "," + bytes(s, s.bytes_received) + "," + (s.completed ? "1" : "0") + "," +
                cell(s.error) + "," + bytes(s, s.bytes_delivered) + "," +
                (s.loss ? num(*s.loss) : "") + "," + (s.owd ? num(to_millis(*s.owd)) : "") + "," +
                (s.jitter ? num(to_millis(*s.jitter)) : "") + "," + cell(s.attempts) + "\n";
  }
  // goodput_mbps is kept for readers of the first format; goodput_estimate_mbps says what it is: nRD's estimate
  // from the sessions it sampled (it follows what they carried, not what the path could carry);
  // capacity_estimate_mbps is what backlogged senders reached within nRD's capacity window (a lower bound on what
  // the path carries; empty where no session sent with a backlog).
  std::string metrics =
      "time_s,stack,rtt_ms,goodput_mbps,loss,failures,healthy,goodput_estimate_mbps,capacity_estimate_mbps\n";
  for (const auto& m : metrics_) {
    const auto& e = m.estimate;
    const std::string goodput = e.has_goodput ? num(e.goodput.value / 1e6, 3) : "";
    metrics += num(to_seconds(m.time)) + "," + cell(e.stack) + "," + (e.has_rtt ? num(to_millis(e.rtt), 3) : "") +
               "," + goodput + "," + (e.has_loss ? num(e.loss, 5) : "") + "," + std::to_string(e.failures) + "," +
               (e.healthy ? "1" : "0") + "," + goodput + "," +
               (e.has_capacity ? num(e.capacity.value / 1e6, 3) : "") + "\n";
  }
  std::string policy;
  for (const auto& line : policy_lines_) policy += line + "\n";
  std::string events = "time_s,event,target,detail\n";
  for (const auto& e : events_) {
    events += num(to_seconds(e.time), 3) + "," + cell(e.event) + "," + cell(e.target) + "," + cell(e.detail) + "\n";
  }

  nlohmann::ordered_json summary;
  summary["scenario"] = scenario_.name;
  summary["seed"] = scenario_.seed;
  summary["duration_s"] = to_seconds(scenario_.duration);
  const auto completed = std::count_if(sessions_.begin(), sessions_.end(), [](auto& s) { return s.completed; });
  const auto unfinished = std::count_if(sessions_.begin(), sessions_.end(),
                                       [](auto& s) { return s.error == scenario::kUnfinished; });
  const auto failed = std::count_if(sessions_.begin(), sessions_.end(), [](auto& s) { return !s.error.empty(); }) -
                      unfinished;
  summary["sessions"] = {
      {"total", sessions_.size()}, {"completed", completed}, {"failed", failed}, {"unfinished", unfinished}};
  // How much racing cost: with a healthy first stack, `extra` stays 0 (no second attempt ever started).
  std::uint64_t started = 0, extra = 0, lost = 0, with_extra = 0, won_later = 0;
  for (const auto& s : sessions_) {
    const AttemptCounts& c = s.attempt_counts;
    started += c.started;
    extra += c.started > 1 ? c.started - 1 : 0;
    with_extra += c.started > 1;
    lost += c.lost;
    won_later += c.won_by_later_rank;
  }
  summary["attempts"] = {{"started", started},
                         {"extra", extra},
                         {"sessions_with_extra", with_extra},
                         {"lost", lost},
                         {"won_by_later_rank", won_later}};
  summary["stacks"] = nlohmann::ordered_json::array();
  for (const auto& t : stack_totals()) {
    // goodput_mbps: the first format's name, now the delivered rate (it was offered bytes); delivered_mbps is
    // the name that says what it is.
    summary["stacks"].push_back({{"stack", t.stack}, {"sessions", t.sessions}, {"share", t.share},
                                 {"goodput_mbps", t.delivered_mbps}, {"bytes", t.bytes},
                                 {"bytes_delivered", t.bytes_delivered}, {"delivered_mbps", t.delivered_mbps}});
    // Command runs' bytes are unknown: the byte figures leave them out and say how many they left out; a stack
    // that carried nothing else has no byte figures at all (null, never 0).
    if (t.sessions_bytes_unknown > 0) {
      auto& entry = summary["stacks"].back();
      entry["sessions_bytes_unknown"] = t.sessions_bytes_unknown;
      if (t.sessions_bytes_unknown == t.sessions)
        for (const char* key : {"goodput_mbps", "bytes", "bytes_delivered", "delivered_mbps"}) entry[key] = nullptr;
    }
  }
  summary["expectations"] = nlohmann::ordered_json::array();
  for (const auto& x : expectations) {
    summary["expectations"].push_back({{"text", x.text}, {"passed", x.passed}, {"detail", x.detail}});
  }
  if (timing.interrupted_at_s) {
    summary["partial"] = true;
    summary["interrupted_at_s"] = *timing.interrupted_at_s;
  }
  summary["policy_versions"] = policy_records_.size();
  summary["sim_events"] = timing.sim_events;
  summary["provenance"] = provenance();
  // The only values that differ between two runs of the same seed: everything else is deterministic.
  // An interrupted run covered only part of the scenario: its speed is over the part it ran.
  const double covered_s = timing.interrupted_at_s ? *timing.interrupted_at_s : to_seconds(scenario_.duration);
  summary["timing"] = {{"wall_s", timing.wall_s},
                       {"sim_s_per_wall_s", timing.wall_s > 0 ? covered_s / timing.wall_s : 0},
                       {"events_per_wall_s", timing.wall_s > 0 ? double(timing.sim_events) / timing.wall_s : 0}};
  // Where and when: differs between runs of the same seed, like timing.
  if (invocation) summary["invocation"] = invocation_json(*invocation);

  const std::string scenario_copy =
      "# The scenario of this run as it ran: " + scenario_.file +
      " with the run's --set overrides and seed applied (see summary.json `provenance`).\n"
      "# Comments of the original are not kept. `dmm-sim scenario.yaml` runs it again.\n" +
      scenario_.effective_yaml;
  for (auto [name, text] : {std::pair<const char*, const std::string*>{"sessions.csv", &sessions},
                            {"metrics.csv", &metrics}, {"policy.jsonl", &policy}, {"events.csv", &events},
                            {kScenarioCopy, &scenario_copy}}) {
    if (auto st = write_file(dir / name, *text); !st) return st;
  }
  return write_file(dir / "summary.json", summary.dump(2) + "\n");
}

}  // namespace dmm::sim
