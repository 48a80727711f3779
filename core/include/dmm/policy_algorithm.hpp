#pragma once
// nRD's decision step: from per-stack estimates and the policy in force, the policy it wants next.
// Algorithms register by name (`static`, `min-rtt`, `max-goodput`, `weighted`; Python ones via the bindings).
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dmm/policy.hpp"
#include "dmm/result.hpp"

namespace dmm {

struct StackEstimate {
  StackId stack;
  bool has_rtt = false;
  Duration rtt{0};                 // EWMA of RTT samples
  bool has_goodput = false;
  BitsPerSecond goodput;           // EWMA of per-interval delivery rate: what sessions moved (demand-bound)
  // The highest rate a session of this host sent at, over nRD's capacity window, while its sender was
  // backlogged (PathSample::acked_backlogged): a lower bound on what the path can carry, as BBR's bottleneck
  // bandwidth filter. None when no session sent enough with a backlog within the window.
  bool has_capacity = false;
  BitsPerSecond capacity;
  bool has_loss = false;           // a loss sample arrived and has not expired (loss is 0 otherwise)
  double loss = 0;                 // EWMA of retransmits / segments sent
  std::uint32_t failures = 0;      // failures since the last success
  bool healthy = true;
  TimePoint last_sample{0};
};

// The best known lower bound on what the stack's path carries: its capacity estimate or the goodput its sessions
// achieved, whichever is higher (both are rates the path was seen to carry). nullopt when there is neither.
std::optional<double> throughput_bound_bps(const StackEstimate& e);

using StackEstimates = std::vector<StackEstimate>;  // one per stack, in the nRD's stack order

class PolicyAlgorithm {
public:
  virtual ~PolicyAlgorithm() = default;
  // Returns the policy it wants in force; nRD compares it with `current` and publishes only on a change
  // (so returning `current` unchanged means "keep"). Version, time and reason are filled in by nRD,
  // except that a non-empty reason set here is kept.
  virtual Policy decide(const StackEstimates& now, const Policy& current) = 0;
};

using AlgorithmParams = std::map<std::string, double>;

struct AlgorithmKind {
  std::string name;
  std::map<std::string, double> defaults;  // accepted parameters and their defaults; others are errors
  std::function<std::unique_ptr<PolicyAlgorithm>(const AlgorithmParams& merged)> factory;
};

class AlgorithmRegistry {
public:
  // A registry with the built-in algorithms.
  static AlgorithmRegistry with_builtins();
  Status add(AlgorithmKind kind);
  const AlgorithmKind* find(const std::string& name) const;
  std::vector<std::string> names() const;
  // EINVAL naming the algorithm or the parameter that is unknown.
  Result<std::unique_ptr<PolicyAlgorithm>> create(const std::string& name, const AlgorithmParams& params) const;

private:
  std::map<std::string, AlgorithmKind> kinds_;
};

}  // namespace dmm
