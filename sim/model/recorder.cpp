#include "model/recorder.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

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
    t.bytes += s.bytes_sent + s.bytes_received;
  }
  std::vector<StackTotals> out;
  const double seconds = to_seconds(scenario_.duration);
  for (auto& [name, t] : by_stack) {
    t.share = carried ? double(t.sessions) / double(carried) : 0;
    t.goodput_mbps = seconds > 0 ? double(t.bytes) * 8 / seconds / 1e6 : 0;
    out.push_back(t);
  }
  return out;
}

Status Recorder::write(const std::filesystem::path& dir, const std::vector<scenario::ExpectationResult>& expectations,
                       const RunTiming& timing) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(EIO, "cannot create results directory " + dir.string() + ": " + ec.message());

  std::string sessions =
      "session,workload,node,dst,port,intent,stack,rule,policy_version,start_s,end_s,bytes_sent,bytes_received,"
      "completed,error,attempts\n";
  for (const auto& s : sessions_) {
    sessions += std::to_string(s.session) + "," + cell(s.workload) + "," + cell(s.node) + "," + cell(s.dst) + "," +
                std::to_string(s.port) + "," + std::string(to_string(s.intent)) + "," + cell(s.stack) + "," +
                std::to_string(s.rule) + "," + std::to_string(s.policy_version) + "," +
                num(to_seconds(s.start)) + "," + num(to_seconds(s.end)) + "," + std::to_string(s.bytes_sent) + "," +
                std::to_string(s.bytes_received) + "," + (s.completed ? "1" : "0") + "," + cell(s.error) + "," +
                cell(s.attempts) + "\n";
  }
  std::string metrics = "time_s,stack,rtt_ms,goodput_mbps,loss,failures,healthy\n";
  for (const auto& m : metrics_) {
    const auto& e = m.estimate;
    metrics += num(to_seconds(m.time), 3) + "," + cell(e.stack) + "," + (e.has_rtt ? num(to_millis(e.rtt), 3) : "") +
               "," + (e.has_goodput ? num(e.goodput.value / 1e6, 3) : "") + "," + (e.has_loss ? num(e.loss, 5) : "") + "," +
               std::to_string(e.failures) + "," + (e.healthy ? "1" : "0") + "\n";
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
  summary["stacks"] = nlohmann::ordered_json::array();
  for (const auto& t : stack_totals()) {
    summary["stacks"].push_back(
        {{"stack", t.stack}, {"sessions", t.sessions}, {"share", t.share}, {"goodput_mbps", t.goodput_mbps},
         {"bytes", t.bytes}});
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
  // The only values that differ between two runs of the same seed: everything else is deterministic.
  summary["timing"] = {{"wall_s", timing.wall_s},
                       {"sim_s_per_wall_s", timing.wall_s > 0 ? to_seconds(scenario_.duration) / timing.wall_s : 0},
                       {"events_per_wall_s", timing.wall_s > 0 ? double(timing.sim_events) / timing.wall_s : 0}};

  for (auto [name, text] : {std::pair<const char*, const std::string*>{"sessions.csv", &sessions},
                            {"metrics.csv", &metrics}, {"policy.jsonl", &policy}, {"events.csv", &events}}) {
    if (auto st = write_file(dir / name, *text); !st) return st;
  }
  return write_file(dir / "summary.json", summary.dump(2) + "\n");
}

}  // namespace dmm::sim
