#pragma once
// Prometheus text exposition format (version 0.0.4) as a pure builder: families with HELP and TYPE lines, then
// their samples; label values escaped (\\, \", \n), HELP text escaped (\\, \n), non-finite values spelled NaN,
// +Inf, -Inf. What dmm-nrd serves on its loopback metrics port.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dmm::nrd {

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

class PrometheusText {
public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  enum class Type { counter, gauge };

  // Starts a family; its samples follow. `name` is [a-zA-Z_:][a-zA-Z0-9_:]* (counters end in _total).
  void family(std::string_view name, Type type, std::string_view help);
  // A sample of the current family (labels in the order given).
  void sample(double value, const Labels& labels = {});
  const std::string& text() const { return text_; }

  static std::string escape_label_value(std::string_view value);
  static std::string format_value(double value);

private:
  std::string text_;
  std::string name_;  // of the current family
};

}  // namespace dmm::nrd
