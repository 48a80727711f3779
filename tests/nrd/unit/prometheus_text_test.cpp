#include "dmm/nrd/prometheus_text.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using dmm::nrd::PrometheusText;

namespace {

TEST(PrometheusText, FamiliesHaveHelpTypeAndSamples) {
  PrometheusText t;
  t.family("dmm_nrd_policy_version", PrometheusText::Type::gauge, "Version in force.");
  t.sample(7);
  t.family("dmm_nrd_messages_rejected_total", PrometheusText::Type::counter, "Refused.\nBy reason \\ kind.");
  t.sample(2, {{"reason", "bad_magic"}});
  t.sample(0.25, {{"reason", "a\"b\\c\nd"}, {"x", "y"}});
  EXPECT_EQ(t.text(),
            "# HELP dmm_nrd_policy_version Version in force.\n"
            "# TYPE dmm_nrd_policy_version gauge\n"
            "dmm_nrd_policy_version 7\n"
            "# HELP dmm_nrd_messages_rejected_total Refused.\\nBy reason \\\\ kind.\n"
            "# TYPE dmm_nrd_messages_rejected_total counter\n"
            "dmm_nrd_messages_rejected_total{reason=\"bad_magic\"} 2\n"
            "dmm_nrd_messages_rejected_total{reason=\"a\\\"b\\\\c\\nd\",x=\"y\"} 0.25\n");
}

TEST(PrometheusText, ValuesAreExactAndNonFiniteOnesSpelledOut) {
  EXPECT_EQ(PrometheusText::format_value(0.1), "0.1");
  EXPECT_EQ(PrometheusText::format_value(1e-6), "1e-06");
  EXPECT_EQ(PrometheusText::format_value(123456789012), "123456789012");
  EXPECT_EQ(std::strtod(PrometheusText::format_value(1.0 / 3).c_str(), nullptr), 1.0 / 3);
  EXPECT_EQ(PrometheusText::format_value(std::nan("")), "NaN");
  EXPECT_EQ(PrometheusText::format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(PrometheusText::format_value(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(PrometheusText, InvalidNamesAreBugs) {
  PrometheusText t;
  EXPECT_THROW(t.family("9lives", PrometheusText::Type::gauge, ""), std::invalid_argument);
  EXPECT_THROW(t.family("has-dash", PrometheusText::Type::gauge, ""), std::invalid_argument);
  t.family("ok", PrometheusText::Type::gauge, "");
  EXPECT_THROW(t.sample(1, {{"bad label", "x"}}), std::invalid_argument);
}

}  // namespace
