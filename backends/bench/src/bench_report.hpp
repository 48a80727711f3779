#pragma once
// Figures measured per variant over several rounds, and how they compare with the baseline variant measured in
// the same run: each figure's median (with min and max) and its *slowdown* against the baseline, so that every
// target reads the same way whatever the unit (latency: variant / baseline; rates: baseline / variant; 1.00 =
// as fast as the baseline, above 1 = slower).
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dmm::bench {

enum class Better { lower, higher };

struct FigureSpec {
  std::string key;                 // as the client's JSON names it (p50_us, gbps, per_s, ...)
  std::string label;               // for people: "ping-pong p50"
  std::string unit;                // "us", "Gbit/s", "/s"
  Better better = Better::lower;
  std::optional<double> target;    // the highest acceptable slowdown against the baseline
  std::optional<double> at_least;  // an absolute floor for the median of every variant but the baseline
};

struct Summary {
  double median = 0, min = 0, max = 0;
  std::size_t samples = 0;
};
Summary summarize(std::vector<double> values);

class BenchReport {
public:
  BenchReport(std::string suite, std::string baseline) : suite_(std::move(suite)), baseline_(std::move(baseline)) {}

  void add_variant(const std::string& name, const std::string& description);
  void add_figure(const FigureSpec& figure);
  void record(const std::string& variant, const std::string& figure_key, double value);

  // Slowdown of `variant` against the baseline for a figure; nullopt while either has no sample.
  std::optional<double> slowdown(const std::string& variant, const std::string& figure_key) const;
  // Every figure with a target, for every variant that has one: met?
  bool all_targets_met() const;

  void print(std::ostream& out) const;
  nlohmann::json to_json() const;

private:
  const FigureSpec* figure(const std::string& key) const;
  bool meets_floor(const std::string& variant, const FigureSpec& f) const;

  std::string suite_;
  std::string baseline_;
  std::vector<std::pair<std::string, std::string>> variants_;  // name, description (in the order added)
  std::vector<FigureSpec> figures_;
  std::map<std::string, std::map<std::string, std::vector<double>>> samples_;  // variant -> figure -> values
};

}  // namespace dmm::bench
