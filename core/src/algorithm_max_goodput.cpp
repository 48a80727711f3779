#include "dmm/algorithms.hpp"
#include "ranking.hpp"

namespace dmm {
namespace {

class MaxGoodputAlgorithm final : public PolicyAlgorithm {
public:
  explicit MaxGoodputAlgorithm(double hysteresis) : hysteresis_(hysteresis) {}
  Policy decide(const StackEstimates& now, const Policy& current) override {
    // Cost = time per megabit, so "lower is better" and hysteresis mean the same as for RTT. The rate is the best
    // known lower bound on what the path carries: the capacity estimate where backlogged senders measured one,
    // otherwise what the sessions achieved (which follows their demand, so a busy slow path could look faster
    // than an idle fast one without the capacity estimate).
    return rerank(current, now, hysteresis_, [](const StackEstimate& e, const Rule&) -> std::optional<double> {
      const auto bps = throughput_bound_bps(e);
      if (!bps) return std::nullopt;
      return 1e6 / *bps;
    }, "s_per_Mbit");
  }

private:
  double hysteresis_;
};

}  // namespace

std::unique_ptr<PolicyAlgorithm> make_max_goodput_algorithm(const AlgorithmParams& params) {
  return std::make_unique<MaxGoodputAlgorithm>(params.at("hysteresis"));
}

}  // namespace dmm
