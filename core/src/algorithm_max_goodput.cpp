#include "dmm/algorithms.hpp"
#include "ranking.hpp"

namespace dmm {
namespace {

class MaxGoodputAlgorithm final : public PolicyAlgorithm {
public:
  explicit MaxGoodputAlgorithm(double hysteresis) : hysteresis_(hysteresis) {}
  Policy decide(const StackEstimates& now, const Policy& current) override {
    // Cost = time per megabit, so "lower is better" and hysteresis mean the same as for RTT.
    return rerank(current, now, hysteresis_, [](const StackEstimate& e, const Rule&) -> std::optional<double> {
      if (!e.has_goodput || e.goodput.value <= 0) return std::nullopt;
      return 1e6 / e.goodput.value;
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
