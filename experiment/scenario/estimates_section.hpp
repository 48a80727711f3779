#pragma once
// `estimates:` — how nRD turns samples into estimates. One reader for a scenario's `nrd.estimates` and for
// dmm-nrd's nrd.yaml `estimates`, so both accept the same keys, ranges and defaults (README, "nrd.yaml").
#include "dmm/nrd.hpp"
#include "scenario/field.hpp"

namespace dmm::scenario {

// Keys: ewma_alpha (0 < a <= 1), failure_threshold (1..1000), retry_after (> 0s), expire_after (0s = never).
// Keys left out keep what `into` holds. Throws yaml::Failure at the offending key.
void read_estimates(const Field& f, EstimatorConfig& into);

}  // namespace dmm::scenario
