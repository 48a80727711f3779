#include "scenario/estimates_section.hpp"

namespace dmm::scenario {

void read_estimates(const Field& f, EstimatorConfig& into) {
  const MapReader m(f, "the estimates section");
  m.allow({"ewma_alpha", "failure_threshold", "retry_after", "expire_after", "capacity_window"});
  if (auto a = m.get("ewma_alpha")) {
    into.ewma_alpha = read_number(*a);
    if (into.ewma_alpha <= 0 || into.ewma_alpha > 1) a->fail("ewma_alpha must be in (0, 1]");
  }
  if (auto t = m.get("failure_threshold")) into.failure_threshold = static_cast<std::uint32_t>(read_uint(*t, 1, 1000));
  if (auto r = m.get("retry_after")) {
    into.retry_after = read_duration(*r);
    if (into.retry_after <= Duration::zero()) r->fail("retry_after must be longer than 0s");
  }
  if (auto e = m.get("expire_after")) {
    into.expire_after = read_duration(*e);
    // Zero is allowed and means "never": the behaviour before estimates aged, kept for comparisons.
    if (into.expire_after < Duration::zero()) e->fail("expire_after must be 0s (never) or longer");
  }
  if (auto w = m.get("capacity_window")) {
    into.capacity_window = read_duration(*w);
    if (into.capacity_window <= Duration::zero()) w->fail("capacity_window must be longer than 0s");
  }
}

}  // namespace dmm::scenario
