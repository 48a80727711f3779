#include "dmm/algorithms.hpp"

namespace dmm {
namespace {

class StaticAlgorithm final : public PolicyAlgorithm {
public:
  Policy decide(const StackEstimates&, const Policy& current) override { return current; }
};

}  // namespace

std::unique_ptr<PolicyAlgorithm> make_static_algorithm(const AlgorithmParams&) {
  return std::make_unique<StaticAlgorithm>();
}

}  // namespace dmm
