#include "run/progress_line.hpp"

#include <gtest/gtest.h>

using dmm::sim::format_eta;
using dmm::sim::ProgressLine;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ProgressLine, ShowsWallTimeEventsPerSecondAndAnEta) {
  ProgressLine line(100);
  EXPECT_TRUE(has(line.update(0.5, 1, 1000), "ETA --"));
  const std::string text = line.update(1.5, 3, 151000);  // 2 s simulated and 150k events in 1 s of wall time
  EXPECT_TRUE(has(text, "3.0 / 100.0 s simulated (  3%)")) << text;
  EXPECT_TRUE(has(text, "1.5 s wall")) << text;
  EXPECT_TRUE(has(text, "150k events/s")) << text;
  EXPECT_TRUE(has(text, "ETA 49 s")) << text;  // 97 s left at 2 s per second
}

TEST(ProgressLine, SaysWhenSimulatedTimeStalls) {
  ProgressLine line(10);
  line.update(1, 4, 100);
  const std::string text = line.update(3, 4, 900100);  // 2 s of wall time, busy, but no simulated time
  EXPECT_TRUE(has(text, "simulated time stalled")) << text;
  EXPECT_TRUE(has(text, "450k events/s")) << text;
  EXPECT_FALSE(has(text, "ETA")) << text;
}

TEST(ProgressLine, RatesFollowTheRecentPastNotTheStart) {
  ProgressLine line(1000);
  for (int w = 0; w <= 10; ++w) line.update(w, w * 10.0, 0);  // 10 s of simulated time per wall second ...
  std::string text;
  for (int w = 11; w <= 20; ++w) text = line.update(w, 100 + (w - 10), 0);  // ... then only 1
  EXPECT_TRUE(has(text, "ETA 14m50s")) << text;  // 890 s left at ~1 s/s
}

TEST(ProgressLine, EtaFormats) {
  EXPECT_EQ(format_eta(42.4), "42 s");
  EXPECT_EQ(format_eta(185), "3m05s");
  EXPECT_EQ(format_eta(7800), "2h10m");
}

}  // namespace
