#pragma once
// Completion time over every session in scope, the unfinished and failed ones included (DESIGN.md §2.2): the
// same estimate as analysis/completion.py, for `expect: median_completion_at_most`.
// - completed: observed, end - start;
// - unfinished (open when the run ended): right-censored at its age, run end - start;
// - failed: never completes (stays in the denominator at every time).
// Kaplan–Meier's product-limit estimate of P(completion time <= t); the median is the first t at which it
// reaches 0.5, and does not exist ("not reached") when it never does.
#include <cstddef>
#include <optional>
#include <vector>

#include "dmm/units.hpp"
#include "scenario/results.hpp"

namespace dmm::scenario {

struct CompletionEstimate {
  std::size_t sessions = 0, completed = 0, unfinished = 0, failed = 0;
  std::optional<Duration> median;  // nullopt: not reached (or no sessions)
};

CompletionEstimate estimate_completion(const std::vector<const SessionRecord*>& sessions, TimePoint run_end);

}  // namespace dmm::scenario
