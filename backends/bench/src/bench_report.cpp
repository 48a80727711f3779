#include "bench_report.hpp"

#include <algorithm>
#include <cstdio>

namespace dmm::bench {

Summary summarize(std::vector<double> values) {
  Summary s;
  s.samples = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  s.min = values.front();
  s.max = values.back();
  return s;
}

void BenchReport::add_variant(const std::string& name, const std::string& description) {
  variants_.emplace_back(name, description);
}

void BenchReport::add_figure(const FigureSpec& figure) { figures_.push_back(figure); }

void BenchReport::record(const std::string& variant, const std::string& figure_key, double value) {
  samples_[variant][figure_key].push_back(value);
}

const FigureSpec* BenchReport::figure(const std::string& key) const {
  for (const auto& f : figures_)
    if (f.key == key) return &f;
  return nullptr;
}

std::optional<double> BenchReport::slowdown(const std::string& variant, const std::string& figure_key) const {
  const FigureSpec* f = figure(figure_key);
  auto values = [&](const std::string& v) -> std::vector<double> {
    const auto by_variant = samples_.find(v);
    if (by_variant == samples_.end()) return {};
    const auto by_figure = by_variant->second.find(figure_key);
    return by_figure == by_variant->second.end() ? std::vector<double>{} : by_figure->second;
  };
  const Summary base = summarize(values(baseline_));
  const Summary mine = summarize(values(variant));
  if (!f || base.samples == 0 || mine.samples == 0 || base.median <= 0 || mine.median <= 0) return std::nullopt;
  return f->better == Better::lower ? mine.median / base.median : base.median / mine.median;
}

bool BenchReport::meets_floor(const std::string& variant, const FigureSpec& f) const {
  const auto by_variant = samples_.find(variant);
  if (by_variant == samples_.end() || !by_variant->second.count(f.key)) return true;  // not measured here
  return summarize(by_variant->second.at(f.key)).median >= *f.at_least;
}

bool BenchReport::all_targets_met() const {
  for (const auto& [variant, description] : variants_) {
    if (variant == baseline_) continue;
    for (const auto& f : figures_) {
      if (f.target) {
        const auto s = slowdown(variant, f.key);
        if (!s || *s > *f.target) return false;
      }
      if (f.at_least && !meets_floor(variant, f)) return false;
    }
  }
  return true;
}

void BenchReport::print(std::ostream& out) const {
  char line[256];
  out << "dmm-bench " << suite_ << " (median of rounds; slowdown against '" << baseline_
      << "' measured in the same run: 1.00 = as fast, >1 = slower)\n";
  for (const auto& [name, description] : variants_) out << "  " << name << ": " << description << "\n";
  std::snprintf(line, sizeof line, "\n%-22s %-16s %12s %12s %12s %9s %8s  %s\n", "figure", "variant", "median", "min",
                "max", "slowdown", "target", "");
  out << line;
  for (const auto& f : figures_) {
    for (const auto& [variant, description] : variants_) {
      const auto by_variant = samples_.find(variant);
      if (by_variant == samples_.end() || !by_variant->second.count(f.key)) continue;
      const Summary s = summarize(by_variant->second.at(f.key));
      const auto slow = slowdown(variant, f.key);
      std::string slow_text = "-", target_text = "", verdict = "";
      if (variant != baseline_ && slow) {
        std::snprintf(line, sizeof line, "%.3f", *slow);
        slow_text = line;
        if (f.target) {
          std::snprintf(line, sizeof line, "<=%.2f", *f.target);
          target_text = line;
          verdict = *slow <= *f.target ? "met" : "MISSED";
        }
      }
      if (variant != baseline_ && f.at_least) {
        std::snprintf(line, sizeof line, ">=%.3g", *f.at_least);
        target_text = line;
        verdict = meets_floor(variant, f) ? "met" : "MISSED";
      }
      std::snprintf(line, sizeof line, "%-22s %-16s %12.3f %12.3f %12.3f %9s %8s  %s\n",
                    (f.label + " " + f.unit).c_str(), variant.c_str(), s.median, s.min, s.max, slow_text.c_str(),
                    target_text.c_str(), verdict.c_str());
      out << line;
    }
  }
}

nlohmann::json BenchReport::to_json() const {
  nlohmann::json j{{"suite", suite_}, {"baseline", baseline_}};
  j["variants"] = nlohmann::json::object();
  for (const auto& [name, description] : variants_) j["variants"][name] = description;
  j["figures"] = nlohmann::json::array();
  for (const auto& f : figures_) {
    nlohmann::json fj{{"key", f.key}, {"label", f.label}, {"unit", f.unit},
                      {"better", f.better == Better::lower ? "lower" : "higher"}};
    if (f.target) fj["target_slowdown"] = *f.target;
    if (f.at_least) fj["target_at_least"] = *f.at_least;
    for (const auto& [variant, description] : variants_) {
      const auto by_variant = samples_.find(variant);
      if (by_variant == samples_.end() || !by_variant->second.count(f.key)) continue;
      const auto& values = by_variant->second.at(f.key);
      const Summary s = summarize(values);
      nlohmann::json vj{{"median", s.median}, {"min", s.min}, {"max", s.max}, {"samples", values}};
      if (variant != baseline_) {
        if (const auto slow = slowdown(variant, f.key)) {
          vj["slowdown"] = *slow;
          if (f.target) vj["target_met"] = *slow <= *f.target;
        }
        if (f.at_least) vj["target_met"] = meets_floor(variant, f) && vj.value("target_met", true);
      }
      fj["by_variant"][variant] = vj;
    }
    j["figures"].push_back(fj);
  }
  j["all_targets_met"] = all_targets_met();
  return j;
}

}  // namespace dmm::bench
