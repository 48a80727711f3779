#include "scenario/completion_stats.hpp"

#include <algorithm>

namespace dmm::scenario {

CompletionEstimate estimate_completion(const std::vector<const SessionRecord*>& sessions, TimePoint run_end) {
  CompletionEstimate out;
  out.sessions = sessions.size();
  struct Observation {
    Duration time;
    bool completed;
  };
  std::vector<Observation> observed;  // failed sessions are censored at infinity: never leave the risk set
  for (const SessionRecord* s : sessions) {
    if (s->completed) {
      ++out.completed;
      observed.push_back({std::max(s->end - s->start, Duration{0}), true});
    } else if (s->unfinished()) {
      ++out.unfinished;
      observed.push_back({std::max(run_end - s->start, Duration{0}), false});
    } else {
      ++out.failed;
    }
  }
  // Censored at the same time as a completion still counts as at risk then: completions sort first.
  std::sort(observed.begin(), observed.end(), [](const Observation& a, const Observation& b) {
    return a.time != b.time ? a.time < b.time : a.completed > b.completed;
  });
  double survival = 1.0;
  std::size_t at_risk = sessions.size();
  for (std::size_t i = 0; i < observed.size();) {
    const Duration t = observed[i].time;
    std::size_t done = 0, left = 0;
    for (; i < observed.size() && observed[i].time == t; ++i) (observed[i].completed ? done : left) += 1;
    if (done > 0) {
      survival *= 1.0 - double(done) / double(at_risk);
      if (1.0 - survival >= 0.5 - 1e-12) {
        out.median = t;
        return out;
      }
    }
    at_risk -= done + left;
  }
  return out;
}

}  // namespace dmm::scenario
