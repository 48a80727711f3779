#include <algorithm>
#include <limits>

#include "dmm/algorithms.hpp"
#include "ranking.hpp"

namespace dmm {
namespace {

struct Weights {
  double rtt = 1, goodput = 1, loss = 10;
};

// A rule's intent shifts the weights: a latency rule barely cares about goodput, a throughput or bulk rule
// barely about RTT. Default rules use the weights as given.
Weights for_intent(Weights w, const Rule& rule) {
  constexpr double kMinor = 0.25;
  if (!rule.match.intent) return w;
  switch (*rule.match.intent) {
    case Intent::latency: w.goodput *= kMinor; break;
    case Intent::throughput:
    case Intent::bulk: w.rtt *= kMinor; break;
    case Intent::default_: break;
  }
  return w;
}

class WeightedAlgorithm final : public PolicyAlgorithm {
public:
  WeightedAlgorithm(double hysteresis, Weights weights) : hysteresis_(hysteresis), weights_(weights) {}

  Policy decide(const StackEstimates& now, const Policy& current) override {
    // Normalise against the best stack so the terms are comparable: 1.0 means "as good as the best".
    double best_rtt = std::numeric_limits<double>::infinity(), best_goodput = 0;
    for (const auto& e : now) {
      if (!e.healthy) continue;
      if (e.has_rtt && e.rtt.count() > 0) best_rtt = std::min(best_rtt, to_millis(e.rtt));
      if (auto bps = throughput_bound_bps(e)) best_goodput = std::max(best_goodput, *bps);
    }
    return rerank(current, now, hysteresis_, [&](const StackEstimate& e, const Rule& rule) -> std::optional<double> {
      const auto bps = throughput_bound_bps(e);  // capacity where measured, else achieved goodput
      if (!e.has_rtt && !bps) return std::nullopt;
      const Weights w = for_intent(weights_, rule);
      double cost = w.loss * e.loss * 100.0;  // loss in percent
      cost += w.rtt * (e.has_rtt && e.rtt.count() > 0 ? to_millis(e.rtt) / best_rtt : 1.0);
      cost += w.goodput * (bps ? best_goodput / *bps : 1.0);
      return cost;
    }, "cost");
  }

private:
  double hysteresis_;
  Weights weights_;
};

}  // namespace

std::unique_ptr<PolicyAlgorithm> make_weighted_algorithm(const AlgorithmParams& params) {
  return std::make_unique<WeightedAlgorithm>(
      params.at("hysteresis"),
      Weights{params.at("rtt_weight"), params.at("goodput_weight"), params.at("loss_weight")});
}

}  // namespace dmm
