#include "dmm/session.hpp"

#include <gtest/gtest.h>

namespace dmm {
namespace {

TEST(Session, ProtoNamesRoundTrip) {
  for (L4Proto p : {L4Proto::tcp, L4Proto::udp}) EXPECT_EQ(parse_l4proto(to_string(p)), p);
  EXPECT_EQ(to_string(L4Proto::tcp), "tcp");
  EXPECT_EQ(to_string(L4Proto::udp), "udp");
}

TEST(Session, IntentNamesRoundTrip) {
  for (Intent i : {Intent::default_, Intent::latency, Intent::throughput, Intent::bulk})
    EXPECT_EQ(parse_intent(to_string(i)), i);
  EXPECT_EQ(to_string(Intent::default_), "default");
  EXPECT_EQ(to_string(Intent::latency), "latency");
  EXPECT_EQ(to_string(Intent::throughput), "throughput");
  EXPECT_EQ(to_string(Intent::bulk), "bulk");
}

TEST(Session, UnknownNamesAreRejected) {
  for (const char* bad : {"", "TCP", "sctp", "tcp ", "quic"}) EXPECT_FALSE(parse_l4proto(bad)) << bad;
  for (const char* bad : {"", "Latency", "default_", "fast", "bulk "}) EXPECT_FALSE(parse_intent(bad)) << bad;
}

TEST(Session, RequestDefaults) {
  const SessionRequest r;
  EXPECT_EQ(r.proto, L4Proto::tcp);
  EXPECT_EQ(r.intent, Intent::default_);
}

}  // namespace
}  // namespace dmm
