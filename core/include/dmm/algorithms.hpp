#pragma once
// The built-in policy algorithms. Each keeps the rules' matches and only re-ranks their `use` lists.
// All use hysteresis: a stack overtakes the one ranked above it only when it is better by more than the
// `hysteresis` fraction, so a noisy but stable path does not flap the policy.
#include <memory>

#include "dmm/policy_algorithm.hpp"

namespace dmm {

// Never re-ranks: the configured order stays; nRD still publishes health changes (the `down` list).
std::unique_ptr<PolicyAlgorithm> make_static_algorithm(const AlgorithmParams& params);
// Lowest smoothed RTT first. Params: hysteresis.
std::unique_ptr<PolicyAlgorithm> make_min_rtt_algorithm(const AlgorithmParams& params);
// Highest smoothed goodput first. Params: hysteresis.
std::unique_ptr<PolicyAlgorithm> make_max_goodput_algorithm(const AlgorithmParams& params);
// A cost per stack mixing RTT, goodput and loss, weighted by the rule's intent (latency rules care mostly about
// RTT, throughput/bulk rules mostly about goodput). Params: hysteresis, rtt_weight, goodput_weight, loss_weight.
std::unique_ptr<PolicyAlgorithm> make_weighted_algorithm(const AlgorithmParams& params);

}  // namespace dmm
