#pragma once
// Re-ranking with hysteresis, shared by the built-in algorithms.
#include <functional>
#include <optional>
#include <string>

#include "dmm/policy_algorithm.hpp"

namespace dmm {

// A cost per stack for one rule: lower is better; nullopt = no estimate yet.
using CostFn = std::function<std::optional<double>(const StackEstimate&, const Rule&)>;

// Re-ranks each rule's `use` list of `current`: healthy stacks with a cost first, then healthy stacks without
// one (in their current order), then unhealthy ones. Among stacks with a cost, one moves ahead of its
// neighbour only if its cost is below (1 - hysteresis) times the neighbour's — so the current order is kept
// under noise. Sets `reason` to the first head change it made (e.g. `rule 0: slow before fast (rtt ...)`).
Policy rerank(const Policy& current, const StackEstimates& estimates, double hysteresis, const CostFn& cost,
              const std::string& metric_name);

}  // namespace dmm
