#include "dmm/nrd/messages.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using namespace dmm;
using namespace dmm::nrd;

namespace {

// Encodes, re-frames and decodes: what goes over the wire comes back.
Message round_trip(const Message& m) {
  const std::string frame = encode(m);
  FrameReader reader;
  reader.feed(frame);
  auto f = reader.next();
  EXPECT_TRUE(f.ok() && *f);
  auto back = decode(**f);
  EXPECT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ((*f)->type, type_of(m));
  return std::move(back).value();
}

Error decode_error_of(MessageType type, std::string_view body, const MessageLimits& limits = {}) {
  auto m = decode(type, body, limits);
  EXPECT_FALSE(m.ok()) << body;
  if (m.ok()) return {};
  EXPECT_EQ(decode_problem(m.error()), DecodeProblem::malformed);
  return m.error();
}

TEST(Messages, HelloRoundTrips) {
  Hello h{PeerRole::orchestrator, "curl", 42, 7, true, false, {"blue", "red"}};
  auto back = std::get<Hello>(round_trip(h));
  EXPECT_EQ(back.role, PeerRole::orchestrator);
  EXPECT_EQ(back.name, "curl");
  EXPECT_EQ(back.pid, 42u);
  EXPECT_EQ(back.version, 7u);
  EXPECT_TRUE(back.subscribe);
  EXPECT_FALSE(back.watch);
  EXPECT_EQ(back.stacks, (std::vector<StackId>{"blue", "red"}));
}

TEST(Messages, PolicyAndPushCarryTheWholePolicy) {
  Policy p;
  p.version = 9;
  p.reason = "ranking changed";
  p.rules.push_back(Rule{Match{.dst = *IpPrefix::parse("10.0.0.0/8"), .ports = PortRange{80, 80}}, {"a", "b"}});
  p.down = {"b"};
  auto back = std::get<PolicyMessage>(round_trip(PolicyMessage{p})).policy;
  EXPECT_EQ(back.version, 9u);
  EXPECT_EQ(back.rules, p.rules);
  EXPECT_EQ(back.down, p.down);
  EXPECT_EQ(std::get<PushPolicy>(round_trip(PushPolicy{p})).policy.rules, p.rules);
}

TEST(Messages, SamplesRoundTripInMicroseconds) {
  Samples s;
  s.samples.push_back({.stack = "blue", .rtt = 1500us, .delivered = 100000, .interval = 2s, .segments_sent = 70,
                       .retransmits = 2, .acked_backlogged = 90000});
  s.samples.push_back({.stack = "red", .failure = true});
  auto back = std::get<Samples>(round_trip(s)).samples;
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].stack, "blue");
  EXPECT_EQ(back[0].rtt, 1500us);
  EXPECT_EQ(back[0].delivered, 100000u);
  EXPECT_EQ(back[0].interval, 2s);
  EXPECT_EQ(back[0].segments_sent, 70u);
  EXPECT_EQ(back[0].retransmits, 2u);
  EXPECT_EQ(back[0].acked_backlogged, 90000u);  // nRD's capacity estimate needs it on hosts as in sim
  EXPECT_EQ(back[1].acked_backlogged, 0u);
  EXPECT_FALSE(back[0].failure);
  EXPECT_FALSE(back[1].rtt);
  EXPECT_TRUE(back[1].failure);
}

TEST(Messages, TheRestRoundTrip) {
  auto w = std::get<Welcome>(round_trip(Welcome{"dmm-nrd", 3, 1000, {"a"}}));
  EXPECT_EQ(w.version, 3u);
  EXPECT_EQ(w.heartbeat_ms, 1000u);
  auto hb = std::get<Heartbeat>(round_trip(Heartbeat{5, 4, 1}));
  EXPECT_EQ(hb.version, 5u);
  EXPECT_EQ(hb.applied, 4u);
  EXPECT_EQ(hb.rejected, 1u);
  auto e = std::get<ErrorMessage>(round_trip(ErrorMessage{"uid_not_allowed", "go away"}));
  EXPECT_EQ(e.reason, "uid_not_allowed");
  EXPECT_EQ(e.message, "go away");
  EXPECT_TRUE(std::holds_alternative<StatusRequest>(round_trip(StatusRequest{})));
  auto st = std::get<StatusMessage>(round_trip(StatusMessage{{{"daemon", "dmm-nrd"}}}));
  EXPECT_EQ(st.body["daemon"], "dmm-nrd");
  auto r = std::get<PushResult>(round_trip(PushResult{true, 12, "ok"}));
  EXPECT_TRUE(r.accepted);
  EXPECT_EQ(r.version, 12u);
  auto d = std::get<DecisionMessage>(round_trip(DecisionMessage{{{"period", 4}}}));
  EXPECT_EQ(d.body["period"], 4);
}

TEST(Messages, TheDaemonsHeartbeatCarriesItsRttEstimates) {
  Heartbeat beat{4, 0, 0, {{"fast", std::chrono::microseconds(20'150)}, {"slow", std::chrono::milliseconds(80)}}};
  auto back = std::get<Heartbeat>(round_trip(beat));
  ASSERT_EQ(back.rtt.size(), 2u);
  EXPECT_EQ(back.rtt[0], (std::pair<StackId, Duration>{"fast", std::chrono::microseconds(20'150)}));
  EXPECT_EQ(back.rtt[1].second, std::chrono::milliseconds(80));
  // An orchestrator's heartbeat has none, and says nothing of them.
  EXPECT_EQ(encode(Heartbeat{4, 1, 0}).find("rtt_us"), std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::heartbeat, R"({"version":1,"rtt_us":[1]})").message.find("heartbeat.rtt_us: expected an object"),
            std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::heartbeat, R"({"version":1,"rtt_us":{"a":-5}})").message.find("heartbeat.rtt_us.a"),
            std::string::npos);
}

TEST(Messages, UnknownKeysAreIgnoredForLaterRevisions) {
  auto m = decode(MessageType::heartbeat, R"({"version":3,"load":0.5})");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(std::get<Heartbeat>(*m).version, 3u);
}

TEST(Messages, MalformedBodiesNameTheTypeAndTheKey) {
  EXPECT_NE(decode_error_of(MessageType::hello, "{\"role\":").message.find("hello message is not JSON"),
            std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::hello, "[]").message.find("hello: expected an object"), std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::hello, "{}").message.find("hello: missing key 'role'"), std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::hello, R"({"role":"admin"})").message.find("hello.role: unknown role 'admin'"),
            std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::hello, R"({"role":"ctl","pid":-1})").message.find("hello.pid"),
            std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::hello, R"({"role":"ctl","stacks":[""]})").message.find("empty name"),
            std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::samples, R"({"samples":{}})").message.find("samples.samples: expected a list"),
            std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::samples, R"({"samples":[{"rtt_us":5}]})")
                .message.find("samples[0]: missing key 'stack'"),
            std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::samples, R"({"samples":[{"stack":"a","rtt_us":"5"}]})")
                .message.find("samples[0].rtt_us: expected a whole number"),
            std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::samples, R"({"samples":[{"stack":"a","rtt_us":1e30}]})").message.find("rtt_us"),
            std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::policy, R"({"version":0,"rules":[]})").message.find("policy: version"),
            std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::push_policy, R"({"version":1})").message.find("missing key 'rules'"),
            std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::error, R"({"message":"x"})").message.find("missing key 'reason'"),
            std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::status, "3").message.find("status: expected an object"), std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::heartbeat, "").message.find("not JSON"), std::string::npos);
  EXPECT_NE(decode_error_of(MessageType::heartbeat, "{\"version\":\"\xff\"}").message.find("not JSON"),
            std::string::npos);
}

TEST(Messages, LimitsBoundWhatOneMessageMayCarry) {
  std::string many = R"({"samples":[)";
  for (int i = 0; i < 5; ++i) many += std::string(i ? "," : "") + R"({"stack":"a"})";
  many += "]}";
  EXPECT_NE(decode_error_of(MessageType::samples, many, {.max_samples = 4}).message.find("5 samples, at most 4"),
            std::string::npos);
  const std::string long_name = R"({"role":"ctl","name":")" + std::string(300, 'x') + "\"}";
  EXPECT_NE(decode_error_of(MessageType::hello, long_name).message.find("hello.name: longer than 255 bytes"),
            std::string::npos);
}

TEST(Messages, EncodingNeverThrowsOnBadText) {
  // A reason from a person may hold invalid UTF-8: it is replaced, not a crash.
  const std::string frame = encode(ErrorMessage{"x", "bad \xff byte"});
  EXPECT_GT(frame.size(), kHeaderBytes);
  auto m = decode(MessageType::error, std::string_view(frame).substr(kHeaderBytes));
  ASSERT_TRUE(m.ok()) << m.error().message;
}

}  // namespace
