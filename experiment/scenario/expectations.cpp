#include <algorithm>
#include <cstdio>
#include <map>

#include "scenario/completion_stats.hpp"
#include "scenario/results.hpp"

namespace dmm::scenario {
namespace {

std::string fmt(const char* format, double a, double b = 0, double c = 0) {
  char buf[128];
  std::snprintf(buf, sizeof buf, format, a, b, c);
  return buf;
}

bool in_window(const ExpectSpec& e, TimePoint t) {
  if (e.from && t < *e.from) return false;
  if (e.to && t >= *e.to) return false;
  return true;
}

// A workload that no expectation names and whose every session failed fails the run (issue 12: client -> router
// -> server failed 48 of 48 sessions and exited 0). Only failures count: sessions still open at the end are
// unfinished, not failed. Naming the workload in `expect:` (e.g. `{workload: w, completed: false}`) hands the
// verdict back to the scenario.
void add_implicit_checks(const Scenario& scenario, const std::vector<SessionRecord>& sessions,
                         std::vector<ExpectationResult>& out) {
  struct Tally {
    std::size_t total = 0, failed = 0;
    const SessionRecord* first_failure = nullptr;
  };
  std::map<std::string, Tally> tallies;
  for (const auto& w : scenario.workloads) tallies.emplace(w.name, Tally{});
  for (const auto& e : scenario.expect)
    if (e.workload) tallies.erase(*e.workload);
  for (const auto& s : sessions) {
    auto it = tallies.find(s.workload);
    if (it == tallies.end()) continue;
    Tally& t = it->second;
    ++t.total;
    if (s.completed || s.error.empty() || s.error == kUnfinished) continue;
    ++t.failed;
    if (!t.first_failure) t.first_failure = &s;
  }
  for (const auto& w : scenario.workloads) {
    auto it = tallies.find(w.name);
    if (it == tallies.end() || it->second.total == 0 || it->second.failed < it->second.total) continue;
    const Tally& t = it->second;
    out.push_back({"(implicit) {workload: " + w.name + ", not every session failed}", false,
                   fmt("%.0f/%.0f sessions failed", double(t.failed), double(t.total)) + "; the first: " +
                       t.first_failure->error + " (name the workload in expect: to decide yourself)"});
  }
}

}  // namespace

std::vector<ExpectationResult> evaluate(const Scenario& scenario, const std::vector<SessionRecord>& sessions,
                                        const std::vector<PolicyRecord>& policies) {
  std::vector<ExpectationResult> out;
  for (const ExpectSpec& e : scenario.expect) {
    // With a share assertion `stack` is the target; otherwise it narrows the scope.
    const bool share = e.share_at_least || e.share_at_most;
    std::vector<const SessionRecord*> scope;
    for (const auto& s : sessions) {
      if (e.workload && s.workload != *e.workload) continue;
      if (!share && e.stack && s.stack != *e.stack) continue;
      if (!in_window(e, s.start)) continue;
      scope.push_back(&s);
    }
    ExpectationResult r{e.as_text, true, ""};
    auto fail = [&](const std::string& why) {
      r.passed = false;
      if (!r.detail.empty()) r.detail += "; ";
      r.detail += why;
    };
    auto note = [&](const std::string& what) {
      if (!r.detail.empty()) r.detail += "; ";
      r.detail += what;
    };
    const bool needs_sessions = share || e.completed || e.completed_at_least || e.median_completion_at_most;
    if (needs_sessions && scope.empty()) fail("no sessions in scope");

    if (share && !scope.empty()) {
      const auto on = std::count_if(scope.begin(), scope.end(), [&](auto* s) { return e.stack && s->stack == *e.stack; });
      const double value = double(on) / double(scope.size());
      const std::string what = fmt("share %.3f (%.0f/%.0f)", value, double(on), double(scope.size()));
      if (e.share_at_least && value < *e.share_at_least) fail(what + fmt(" < %.3f", *e.share_at_least));
      else if (e.share_at_most && value > *e.share_at_most) fail(what + fmt(" > %.3f", *e.share_at_most));
      else note(what);
    }
    const auto done = std::count_if(scope.begin(), scope.end(), [](auto* s) { return s->completed; });
    if (e.completed && !scope.empty()) {
      const std::string what = fmt("%.0f/%.0f completed", double(done), double(scope.size()));
      const bool all = std::size_t(done) == scope.size();
      if (all != *e.completed) fail(what);
      else note(what);
    }
    if (e.completed_at_least && !scope.empty()) {
      const double value = double(done) / double(scope.size());
      const std::string what = fmt("completed %.3f", value);
      if (value < *e.completed_at_least) fail(what + fmt(" < %.3f", *e.completed_at_least));
      else note(what);
    }
    if (e.sessions_at_least) {
      const std::string what = fmt("%.0f sessions", double(scope.size()));
      if (scope.size() < *e.sessions_at_least) fail(what + fmt(" < %.0f", double(*e.sessions_at_least)));
      else note(what);
    }
    if (e.median_completion_at_most && !scope.empty()) {
      // Unfinished and failed sessions count (censored; DESIGN.md §2.2): a median of the finished ones alone
      // would reward leaving slow sessions unfinished.
      const CompletionEstimate c = estimate_completion(scope, scenario.duration);
      const std::string counts = fmt("; %.0f completed, %.0f unfinished, %.0f failed", double(c.completed),
                                     double(c.unfinished), double(c.failed));
      if (!c.median) {
        fail("median completion not reached (fewer than half completed)" + counts);
      } else {
        const std::string what = fmt("median completion %.4fs", to_seconds(*c.median)) + counts;
        if (*c.median > *e.median_completion_at_most) fail(what);
        else note(what);
      }
    }
    if (e.policy_changes_at_most) {
      // Version 1 is the scenario's own policy, not a change.
      const auto changes = std::count_if(policies.begin(), policies.end(),
                                         [&](const PolicyRecord& p) { return p.version > 1 && in_window(e, p.time); });
      const std::string what = fmt("%.0f policy changes", double(changes));
      if (std::uint64_t(changes) > *e.policy_changes_at_most) fail(what);
      else note(what);
    }
    out.push_back(std::move(r));
  }
  add_implicit_checks(scenario, sessions, out);
  return out;
}

}  // namespace dmm::scenario
