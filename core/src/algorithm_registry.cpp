#include "dmm/algorithms.hpp"
#include "dmm/policy_algorithm.hpp"

#include <algorithm>

namespace dmm {

std::optional<double> throughput_bound_bps(const StackEstimate& e) {
  const double goodput = e.has_goodput ? e.goodput.value : 0.0;
  const double capacity = e.has_capacity ? e.capacity.value : 0.0;
  const double bound = std::max(goodput, capacity);
  if (bound <= 0) return std::nullopt;
  return bound;
}

AlgorithmRegistry AlgorithmRegistry::with_builtins() {
  AlgorithmRegistry r;
  // 0.2: a path must be 20 % better before sessions move; below typical RTT noise under load.
  const double h = 0.2;
  (void)r.add({"static", {}, make_static_algorithm});
  (void)r.add({"min-rtt", {{"hysteresis", h}}, make_min_rtt_algorithm});
  (void)r.add({"max-goodput", {{"hysteresis", h}}, make_max_goodput_algorithm});
  (void)r.add({"weighted",
               {{"hysteresis", h}, {"rtt_weight", 1.0}, {"goodput_weight", 1.0}, {"loss_weight", 10.0}},
               make_weighted_algorithm});
  return r;
}

Status AlgorithmRegistry::add(AlgorithmKind kind) {
  if (kind.name.empty() || !kind.factory) return make_error(EINVAL, "algorithm needs a name and a factory");
  if (kinds_.count(kind.name)) return make_error(EEXIST, "algorithm '" + kind.name + "' is already registered");
  std::string name = kind.name;
  kinds_.emplace(std::move(name), std::move(kind));
  return {};
}

const AlgorithmKind* AlgorithmRegistry::find(const std::string& name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : &it->second;
}

std::vector<std::string> AlgorithmRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, kind] : kinds_) out.push_back(name);
  return out;
}

Result<std::unique_ptr<PolicyAlgorithm>> AlgorithmRegistry::create(const std::string& name,
                                                                    const AlgorithmParams& params) const {
  const AlgorithmKind* kind = find(name);
  if (!kind) {
    std::string known;
    for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
    return make_error(EINVAL, "unknown algorithm '" + name + "' (known: " + known + ")");
  }
  AlgorithmParams merged = kind->defaults;
  for (const auto& [key, value] : params) {
    if (!kind->defaults.count(key)) return make_error(EINVAL, "algorithm '" + name + "' has no parameter '" + key + "'");
    merged[key] = value;
  }
  if (merged.count("hysteresis") && (merged["hysteresis"] < 0 || merged["hysteresis"] >= 1)) {
    return make_error(EINVAL, "algorithm '" + name + "': hysteresis must be in [0, 1)");
  }
  return kind->factory(merged);
}

}  // namespace dmm
