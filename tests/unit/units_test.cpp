#include "dmm/units.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace dmm {
namespace {

TEST(ParseDuration, AcceptsEveryUnit) {
  EXPECT_EQ(*parse_duration("250ms"), 250ms);
  EXPECT_EQ(*parse_duration("10s"), 10s);
  EXPECT_EQ(*parse_duration("2m"), 2min);
  EXPECT_EQ(*parse_duration("1h"), 1h);
  EXPECT_EQ(*parse_duration("500us"), 500us);
  EXPECT_EQ(*parse_duration("100ns"), 100ns);
  EXPECT_EQ(*parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(*parse_duration(".5ms"), 500us);
  EXPECT_EQ(*parse_duration("0"), 0ns);
  EXPECT_EQ(*parse_duration("0s"), 0ns);
  EXPECT_EQ(*parse_duration(" 30s "), 30s);  // YAML scalars may carry stray blanks
}

TEST(ParseDuration, LargeIntegersStayExact) {
  // Beyond 2^53 ns a double would round; integers must not go through one.
  EXPECT_EQ(parse_duration("9007199254740993ns")->count(), 9007199254740993LL);
  EXPECT_EQ(*parse_duration("876000h"), 876000h);  // just under 100 years
}

TEST(ParseDuration, RejectsBadInputWithAMessage) {
  auto r = parse_duration("abc");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, EINVAL);
  EXPECT_EQ(r.error().message, "invalid duration 'abc': expected a number with a unit (ns, us, ms, s, m, h)");
  EXPECT_THAT(parse_duration("-5s").error().message, HasSubstr("negative"));
  EXPECT_THAT(parse_duration("5").error().message, HasSubstr("missing unit"));
  EXPECT_THAT(parse_duration("5x").error().message, HasSubstr("unknown unit 'x'"));
  EXPECT_THAT(parse_duration("101y").error().message, HasSubstr("unknown unit 'y'"));
  EXPECT_THAT(parse_duration("3200000000s").error().message, HasSubstr("100 years"));
  EXPECT_THAT(parse_duration(std::string(400, '9') + "s").error().message, HasSubstr("100 years"));
  for (const char* bad : {"", " ", "s", "inf", "nan", "infs", "nans", "+5s", "5 s", "5ss", "1e3s", "0x10s", ".s", "5s5"})
    EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(FormatDuration, PicksTheLargestExactUnitAndRoundTrips) {
  EXPECT_EQ(format_duration(0ns), "0s");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(2min), "2m");
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(1h), "1h");
  EXPECT_EQ(format_duration(1ns), "1ns");
  for (Duration d : {Duration{1}, Duration{999}, Duration{1'000'001}, Duration{3'600'000'000'000}, Duration{12345678}})
    EXPECT_EQ(*parse_duration(format_duration(d)), d);
}

TEST(ParseRate, AcceptsBpsToGbps) {
  EXPECT_EQ(parse_rate("1500bps")->value, 1500);
  EXPECT_EQ(parse_rate("64kbps")->value, 64e3);
  EXPECT_EQ(parse_rate("64Kbps")->value, 64e3);
  EXPECT_EQ(parse_rate("100Mbps")->value, 100e6);
  EXPECT_EQ(parse_rate("1Gbps")->value, 1e9);
  EXPECT_EQ(parse_rate("2.5Gbps")->value, 2.5e9);
}

TEST(ParseRate, RejectsNonPositiveUnitlessAndUnknownUnits) {
  EXPECT_THAT(parse_rate("0Mbps").error().message, HasSubstr("positive"));
  EXPECT_THAT(parse_rate("-1Mbps").error().message, HasSubstr("positive"));
  EXPECT_THAT(parse_rate("100").error().message, HasSubstr("missing unit"));
  EXPECT_THAT(parse_rate("100MBps").error().message, HasSubstr("unknown unit 'MBps'"));
  EXPECT_THAT(parse_rate("100mbps").error().message, HasSubstr("unknown unit"));
  EXPECT_FALSE(parse_rate("9999999999Gbps"));
  EXPECT_FALSE(parse_rate("fast"));
  EXPECT_FALSE(parse_rate(""));
}

TEST(ParseSize, DecimalAndBinaryUnits) {
  EXPECT_EQ(*parse_size("200B"), 200u);
  EXPECT_EQ(*parse_size("1500"), 1500u);
  EXPECT_EQ(*parse_size("0"), 0u);
  EXPECT_EQ(*parse_size("10KB"), 10'000u);
  EXPECT_EQ(*parse_size("10MB"), 10'000'000u);
  EXPECT_EQ(*parse_size("2GB"), 2'000'000'000u);
  EXPECT_EQ(*parse_size("64KiB"), 65'536u);
  EXPECT_EQ(*parse_size("1MiB"), 1'048'576u);
  EXPECT_EQ(*parse_size("1GiB"), 1'073'741'824u);
  EXPECT_EQ(*parse_size("1.5KiB"), 1536u);
}

TEST(ParseSize, RejectsBadSizes) {
  EXPECT_THAT(parse_size("-1KB").error().message, HasSubstr("negative"));
  EXPECT_THAT(parse_size("1.5").error().message, HasSubstr("whole number"));
  EXPECT_THAT(parse_size("10kb").error().message, HasSubstr("unknown unit 'kb'"));
  EXPECT_THAT(parse_size("99999999999999999999999").error().message, HasSubstr("too large"));
  EXPECT_THAT(parse_size("20000000000GiB").error().message, HasSubstr("too large"));
  EXPECT_FALSE(parse_size("KiB"));
  EXPECT_FALSE(parse_size(""));
}

TEST(ParseProbability, ZeroToOneInclusive) {
  EXPECT_EQ(*parse_probability("0"), 0.0);
  EXPECT_EQ(*parse_probability("0.01"), 0.01);
  EXPECT_EQ(*parse_probability("1"), 1.0);
  EXPECT_EQ(*parse_probability("1.0"), 1.0);
  for (const char* bad : {"1.01", "-0.1", "2", "nan", "inf", "", "0.5%", "x"}) {
    auto r = parse_probability(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_THAT(r.error().message, HasSubstr("between 0 and 1")) << bad;
  }
}

TEST(ParsePerSecond, EventsPerTimeUnit) {
  EXPECT_EQ(*parse_per_second("50/s"), 50.0);
  EXPECT_EQ(*parse_per_second("2/ms"), 2000.0);
  EXPECT_DOUBLE_EQ(*parse_per_second("10/m"), 10.0 / 60.0);
  EXPECT_DOUBLE_EQ(*parse_per_second("1/h"), 1.0 / 3600.0);
  EXPECT_EQ(*parse_per_second("0.5/s"), 0.5);
  EXPECT_THAT(parse_per_second("0/s").error().message, HasSubstr("positive"));
  EXPECT_THAT(parse_per_second("-1/s").error().message, HasSubstr("positive"));
  EXPECT_THAT(parse_per_second("5/x").error().message, HasSubstr("unknown unit 'x'"));
  for (const char* bad : {"50", "50s", "/s", "50/", "", "fifty/s"}) EXPECT_FALSE(parse_per_second(bad)) << bad;
}

}  // namespace
}  // namespace dmm
