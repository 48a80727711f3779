#pragma once
// The launch times of a workload with a `rate`: Poisson arrivals (exponential gaps) drawn from the workload's own
// seed, each counted from the previous *planned* arrival. dmm-sim's generators and dmm-emu's command runner draw
// them here, so both worlds start the same sessions at the same times: a timer that fires late in real time does
// not move the arrivals after it.
#include <cstddef>
#include <cstdint>
#include <random>

#include "dmm/units.hpp"

namespace dmm::sim {

// The seed of workload `index` in a run of scenario seed `seed`.
inline std::uint64_t workload_seed(std::uint64_t seed, std::size_t index) { return seed * 1000003u + index; }

class PoissonArrivals {
public:
  // `rate` sessions per second; the first arrival is at `first`.
  PoissonArrivals(double rate, std::uint64_t seed, TimePoint first) : gap_(rate), rng_(seed), planned_(first) {}
  TimePoint planned() const { return planned_; }  // the latest arrival drawn
  TimePoint next() {
    planned_ += from_seconds(gap_(rng_));
    return planned_;
  }

private:
  std::exponential_distribution<double> gap_;
  std::mt19937_64 rng_;
  TimePoint planned_;
};

}  // namespace dmm::sim
