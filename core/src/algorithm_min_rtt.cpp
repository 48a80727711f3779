#include "dmm/algorithms.hpp"
#include "ranking.hpp"

namespace dmm {
namespace {

class MinRttAlgorithm final : public PolicyAlgorithm {
public:
  explicit MinRttAlgorithm(double hysteresis) : hysteresis_(hysteresis) {}
  Policy decide(const StackEstimates& now, const Policy& current) override {
    return rerank(current, now, hysteresis_, [](const StackEstimate& e, const Rule&) -> std::optional<double> {
      if (!e.has_rtt) return std::nullopt;
      return to_millis(e.rtt);
    }, "rtt_ms");
  }

private:
  double hysteresis_;
};

}  // namespace

std::unique_ptr<PolicyAlgorithm> make_min_rtt_algorithm(const AlgorithmParams& params) {
  return std::make_unique<MinRttAlgorithm>(params.at("hysteresis"));
}

}  // namespace dmm
