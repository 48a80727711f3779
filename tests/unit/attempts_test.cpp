#include <gtest/gtest.h>

#include "dmm/nsocket.hpp"

using namespace dmm;

namespace {

TEST(Attempts, FormatIsCompactAndOrdered) {
  EXPECT_EQ(format_attempts({}), "");
  EXPECT_EQ(format_attempts({{"fast", "connect-timeout"}, {"slow", "ok"}}), "fast:connect-timeout;slow:ok");
}

TEST(Attempts, OutcomesAreTokens) {
  EXPECT_EQ(attempt_outcome(make_error(ECONNREFUSED, "x")), "refused");
  EXPECT_EQ(attempt_outcome(make_error(ENETUNREACH, "x")), "unreachable");
  EXPECT_EQ(attempt_outcome(make_error(EHOSTUNREACH, "x")), "unreachable");
  EXPECT_EQ(attempt_outcome(make_error(ETIMEDOUT, "x")), "timeout");
  EXPECT_EQ(attempt_outcome(make_error(ECONNRESET, "x")), "reset");
  EXPECT_EQ(attempt_outcome(make_error(EACCES, "x")), "eacces");
  EXPECT_EQ(attempt_outcome(make_error(99999, "x")), "errno-99999");
}

}  // namespace
