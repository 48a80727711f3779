#include "ranking.hpp"

#include <cstdio>
#include <map>

namespace dmm {
namespace {

struct Ranked {
  const StackId* id;
  const StackEstimate* estimate;  // null when nRD has no estimate entry for it
  std::optional<double> cost;
};

int group_of(const Ranked& r) {
  if (r.estimate && !r.estimate->healthy) return 2;
  return r.cost ? 0 : 1;
}

std::string format_cost(double c) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", c);
  return buf;
}

}  // namespace

Policy rerank(const Policy& current, const StackEstimates& estimates, double hysteresis, const CostFn& cost,
              const std::string& metric_name) {
  std::map<StackId, const StackEstimate*> by_id;
  for (const auto& e : estimates) by_id.emplace(e.stack, &e);

  Policy next = current;
  next.reason.clear();
  for (std::size_t r = 0; r < next.rules.size(); ++r) {
    Rule& rule = next.rules[r];
    std::vector<Ranked> items;
    for (const auto& id : rule.use) {
      auto it = by_id.find(id);
      const StackEstimate* e = it == by_id.end() ? nullptr : it->second;
      items.push_back({&id, e, e && e->healthy ? cost(*e, rule) : std::nullopt});
    }
    // Insertion sort with a "clearly better" test: stable, and deterministic even though the relation is not
    // a strict weak ordering (which std::sort would require).
    auto ahead = [&](const Ranked& a, const Ranked& b) {
      const int ga = group_of(a), gb = group_of(b);
      if (ga != gb) return ga < gb;
      if (ga != 0) return false;
      return *a.cost < *b.cost * (1.0 - hysteresis);
    };
    for (std::size_t i = 1; i < items.size(); ++i) {
      for (std::size_t j = i; j > 0 && ahead(items[j], items[j - 1]); --j) std::swap(items[j], items[j - 1]);
    }
    std::vector<StackId> use;
    for (const auto& it : items) use.push_back(*it.id);
    if (next.reason.empty() && !use.empty() && use.front() != rule.use.front()) {
      const Ranked& head = items.front();
      next.reason = "rule " + std::to_string(r) + ": " + use.front() + " ahead of " + rule.use.front();
      if (head.cost) next.reason += " (" + metric_name + " " + format_cost(*head.cost) + ")";
    }
    rule.use = std::move(use);
  }
  if (next.reason.empty()) next.reason = current.reason;
  return next;
}

}  // namespace dmm
