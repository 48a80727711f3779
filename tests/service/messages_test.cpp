// dmm-stackd's codec (backends/service/include/dmm/service/messages.hpp): every message round-trips, every way bytes
// can fail to be a message is refused with its own named problem and errno, and the limits hold.
#include "dmm/service/messages.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace dmm::service {
namespace {

template <typename T>
T round_trip(const T& m) {
  const std::string bytes = encode(Message{m});
  EXPECT_LE(bytes.size(), kMaxMessage);
  auto decoded = decode(bytes);
  EXPECT_TRUE(decoded.ok()) << (decoded.ok() ? "" : decoded.error().message);
  if (!decoded.ok()) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*decoded));
  return std::get<T>(*decoded);
}

DecodeProblem problem_of(const std::string& bytes) {
  auto decoded = decode(bytes);
  EXPECT_FALSE(decoded.ok());
  if (decoded.ok()) return DecodeProblem::bad_field;
  // The message starts with the problem's name, and the errno is the problem's.
  const DecodeProblem p = decode_problem(decoded.error());
  EXPECT_EQ(decoded.error().message.rfind(std::string(to_string(p)) + ": ", 0), 0u) << decoded.error().message;
  EXPECT_EQ(decoded.error().code, errno_of(p));
  return p;
}

SocketsRequest tcp_request() {
  SocketsRequest r;
  r.id = 7;
  r.stack = "blue";
  r.domain = AF_INET;
  r.type = SOCK_STREAM | SOCK_NONBLOCK;
  r.protocol = IPPROTO_TCP;
  r.count = 3;
  return r;
}

TEST(ServiceMessages, EveryMessageRoundTrips) {
  const Hello h = round_trip(Hello{1, 3, "nginx"});
  EXPECT_EQ(h.lowest_version, 1);
  EXPECT_EQ(h.highest_version, 3);
  EXPECT_EQ(h.client, "nginx");

  const Welcome w = round_trip(Welcome{1, 64, "dmm-stackd 0.1.0"});
  EXPECT_EQ(w.version, 1);
  EXPECT_EQ(w.max_sockets, 64);
  EXPECT_EQ(w.daemon, "dmm-stackd 0.1.0");

  const SocketsRequest r = round_trip(tcp_request());
  EXPECT_EQ(r.id, 7u);
  EXPECT_EQ(r.stack, "blue");
  EXPECT_EQ(r.domain, AF_INET);
  EXPECT_EQ(r.type, SOCK_STREAM | SOCK_NONBLOCK);
  EXPECT_EQ(r.protocol, IPPROTO_TCP);
  EXPECT_EQ(r.count, 3);

  // Negative and odd numbers travel as they are: judging the kind is the daemon's job, not the codec's.
  SocketsRequest odd = tcp_request();
  odd.domain = -1;
  odd.type = SOCK_RAW;
  odd.protocol = 0x7fffffff;
  odd.id = 0xffffffffu;
  const SocketsRequest o = round_trip(odd);
  EXPECT_EQ(o.domain, -1);
  EXPECT_EQ(o.type, SOCK_RAW);
  EXPECT_EQ(o.protocol, 0x7fffffff);
  EXPECT_EQ(o.id, 0xffffffffu);

  const SocketsReply granted = round_trip(SocketsReply{9, 0, 64, "", ""});
  EXPECT_EQ(granted.id, 9u);
  EXPECT_EQ(granted.error, 0);
  EXPECT_EQ(granted.fds, 64);
  const SocketsReply refused = round_trip(SocketsReply{10, EACCES, 0, "not_allowed", "uid 1000 may not"});
  EXPECT_EQ(refused.error, EACCES);
  EXPECT_EQ(refused.fds, 0);
  EXPECT_EQ(refused.reason, "not_allowed");
  EXPECT_EQ(refused.message, "uid 1000 may not");

  const ErrorMessage e = round_trip(ErrorMessage{ECONNREFUSED, "too_many_peers", "full"});
  EXPECT_EQ(e.error, ECONNREFUSED);
  EXPECT_EQ(e.reason, "too_many_peers");
  EXPECT_EQ(e.message, "full");
}

TEST(ServiceMessages, TheHeaderIsMagicVersionTypeAndRequestId) {
  const std::string bytes = encode(Message{tcp_request()});
  ASSERT_GE(bytes.size(), kHeaderBytes);
  EXPECT_EQ(bytes.substr(0, 2), "DS");
  EXPECT_EQ(bytes[2], kHighestVersion);
  EXPECT_EQ(bytes[3], static_cast<char>(MessageType::sockets));
  EXPECT_EQ(bytes.substr(4, 4), std::string("\0\0\0\x07", 4));
  // hello and welcome are written in version 1 whatever versions the sender speaks.
  EXPECT_EQ(encode(Message{Hello{2, 5, "x"}})[2], 1);
}

TEST(ServiceMessages, LongFieldsAreClippedToTheirLimits) {
  SocketsReply r{1, EACCES, 0, std::string(400, 'r'), std::string(5000, 'm')};
  const SocketsReply back = round_trip(r);
  EXPECT_EQ(back.reason.size(), kMaxName);
  EXPECT_EQ(back.message.size(), kMaxText);
}

TEST(ServiceMessages, GarbageIsBadMagic) {
  EXPECT_EQ(problem_of("GET / HTTP/1.1\r\n\r\n"), DecodeProblem::bad_magic);
  EXPECT_EQ(problem_of("X"), DecodeProblem::bad_magic);
  EXPECT_EQ(problem_of("DX\x01\x03\0\0\0\0"), DecodeProblem::bad_magic);
}

TEST(ServiceMessages, ShortOrCutMessagesAreTruncated) {
  EXPECT_EQ(problem_of(""), DecodeProblem::truncated);
  EXPECT_EQ(problem_of("DS"), DecodeProblem::truncated);
  EXPECT_EQ(problem_of(std::string("DS\x01\x03\0\0\0", 7)), DecodeProblem::truncated);
  const std::string full = encode(Message{tcp_request()});
  for (std::size_t n = kHeaderBytes; n < full.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_EQ(problem_of(full.substr(0, n)), DecodeProblem::truncated);
  }
  // The message names the field it ran out in.
  auto cut = decode(full.substr(0, kHeaderBytes + 5 + 2));
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.error().message.find("sockets: ends before domain"), std::string::npos) << cut.error().message;
}

TEST(ServiceMessages, OtherVersionsAndTypesAreRefused) {
  std::string bytes = encode(Message{tcp_request()});
  bytes[2] = 3;
  EXPECT_EQ(problem_of(bytes), DecodeProblem::wrong_version);
  bytes[2] = 0;
  EXPECT_EQ(problem_of(bytes), DecodeProblem::wrong_version);
  bytes[2] = 1;
  bytes[3] = 0;
  EXPECT_EQ(problem_of(bytes), DecodeProblem::unknown_type);
  bytes[3] = 6;  // open: a version-2 type, not in a version-1 message
  EXPECT_EQ(problem_of(bytes), DecodeProblem::unknown_type);
  bytes[2] = 2;
  bytes[3] = kLastMessageType + 1;
  EXPECT_EQ(problem_of(bytes), DecodeProblem::unknown_type);
  bytes[3] = static_cast<char>(0xff);
  EXPECT_EQ(problem_of(bytes), DecodeProblem::unknown_type);
}

TEST(ServiceMessages, SessionMessagesRoundTripAndTheirFieldsAreChecked) {
  OpenRequest open;
  open.id = 9;
  open.stack = "user0";
  open.proto = L4Proto::udp;
  open.destination = *Endpoint::parse("10.1.2.3:53");
  open.nonblocking = true;
  const OpenRequest o = round_trip(open);
  EXPECT_EQ(o.id, 9u);
  EXPECT_EQ(o.stack, "user0");
  EXPECT_EQ(o.proto, L4Proto::udp);
  EXPECT_EQ(o.destination, open.destination);
  EXPECT_TRUE(o.nonblocking);
  open.destination = *Endpoint::parse("[fd00::7]:443");
  EXPECT_EQ(round_trip(open).destination, open.destination);

  const OpenReply r = round_trip(OpenReply{4, 0, 77, "", ""});
  EXPECT_EQ(r.session, 77u);
  const OpenReply refused = round_trip(OpenReply{4, ENETUNREACH, 0, "unreachable", "no route"});
  EXPECT_EQ(refused.error, ENETUNREACH);
  EXPECT_EQ(refused.reason, "unreachable");

  EXPECT_EQ(round_trip(StatusRequest{5, 77}).session, 77u);
  StatusReply status{5, 77, SessionState::failed, ECONNREFUSED, *Endpoint::parse("10.0.0.2:49152"), "refused"};
  const StatusReply st = round_trip(status);
  EXPECT_EQ(st.state, SessionState::failed);
  EXPECT_EQ(st.error, ECONNREFUSED);
  EXPECT_EQ(st.local, status.local);
  EXPECT_EQ(st.message, "refused");

  // Each bad field is named.
  auto field_problem = [](std::string bytes, std::size_t at, char value) {
    bytes[at] = value;
    auto d = decode(bytes);
    return d.ok() ? std::string("ok") : d.error().message;
  };
  open.destination = *Endpoint::parse("10.1.2.3:53");
  const std::string bytes = encode(Message{open});
  const std::size_t proto_at = kHeaderBytes + 1 + 5;
  EXPECT_NE(field_problem(bytes, proto_at, 1).find("proto 1"), std::string::npos);
  EXPECT_NE(field_problem(bytes, proto_at + 1, 5).find("address family 5"), std::string::npos);
  EXPECT_NE(field_problem(bytes, proto_at + 2 + 6, 1).find("IPv4 with bytes past its fourth"), std::string::npos);
  EXPECT_NE(field_problem(bytes, bytes.size() - 1, 4).find("flags 4"), std::string::npos);
  std::string no_port = bytes;
  no_port[bytes.size() - 3] = 0;
  no_port[bytes.size() - 2] = 0;
  EXPECT_EQ(problem_of(no_port), DecodeProblem::bad_field);
  EXPECT_EQ(problem_of(encode(Message{StatusRequest{1, 0}})), DecodeProblem::bad_field);
  EXPECT_EQ(problem_of(encode(Message{OpenReply{1, 0, 0, "", ""}})), DecodeProblem::bad_field);
}

TEST(ServiceMessages, BindRequestsRoundTripAndTheirFlagsAreChecked) {
  BindRequest bind;
  bind.id = 12;
  bind.stack = "user0";
  bind.local = *Endpoint::parse("[::]:53");
  bind.nonblocking = true;
  bind.v6only = true;
  const BindRequest b = round_trip(bind);
  EXPECT_EQ(b.id, 12u);
  EXPECT_EQ(b.stack, "user0");
  EXPECT_EQ(b.local, bind.local);
  EXPECT_TRUE(b.nonblocking);
  EXPECT_TRUE(b.v6only);
  EXPECT_FALSE(b.first_destination.has_value());  // a server's bind
  bind.local = *Endpoint::parse("0.0.0.0:0");  // port 0: the instance picks
  bind.nonblocking = bind.v6only = false;
  bind.first_destination = *Endpoint::parse("10.0.0.1:53");  // a client's first sendto
  const BindRequest any = round_trip(bind);
  EXPECT_EQ(any.local, bind.local);
  EXPECT_FALSE(any.nonblocking);
  EXPECT_FALSE(any.v6only);
  EXPECT_EQ(any.first_destination, bind.first_destination);
  std::string bytes = encode(Message{bind});
  EXPECT_EQ(static_cast<MessageType>(bytes[3]), MessageType::bind);
  bytes[kHeaderBytes] = 4;  // flags: bits 0 and 1 only
  auto bad = decode(bytes);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("flags 4"), std::string::npos) << bad.error().message;
  bind.stack.clear();
  EXPECT_EQ(problem_of(encode(Message{bind})), DecodeProblem::bad_field);
  // Version 1 has no such message.
  std::string v1 = encode(Message{BindRequest{1, "user0", *Endpoint::parse("0.0.0.0:53"), false, false, {}}});
  v1[2] = 1;
  EXPECT_EQ(problem_of(v1), DecodeProblem::unknown_type);
}

TEST(ServiceMessages, TrailingBytesAreRefused) {
  EXPECT_EQ(problem_of(encode(Message{tcp_request()}) + "x"), DecodeProblem::trailing);
  EXPECT_EQ(problem_of(encode(Message{Hello{}}) + std::string(3, '\0')), DecodeProblem::trailing);
}

TEST(ServiceMessages, OversizedIsRefusedBeforeAnythingElse) {
  EXPECT_EQ(problem_of(std::string(kMaxMessage + 1, 'D')), DecodeProblem::oversized);
  std::string big = encode(Message{tcp_request()});
  big.resize(kMaxMessage + 100, '\0');
  EXPECT_EQ(problem_of(big), DecodeProblem::oversized);
}

TEST(ServiceMessages, FieldsOutOfRangeAreBadFields) {
  SocketsRequest r = tcp_request();
  r.count = 0;
  EXPECT_EQ(problem_of(encode(Message{r})), DecodeProblem::bad_field);
  r.count = kMaxSocketsPerRequest + 1;
  EXPECT_EQ(problem_of(encode(Message{r})), DecodeProblem::bad_field);
  r.count = 1;
  r.stack = "";
  EXPECT_EQ(problem_of(encode(Message{r})), DecodeProblem::bad_field);
  r.stack = std::string("a\0b", 3);
  EXPECT_EQ(problem_of(encode(Message{r})), DecodeProblem::bad_field);

  EXPECT_EQ(problem_of(encode(Message{Hello{0, 1, ""}})), DecodeProblem::bad_field);   // version 0
  EXPECT_EQ(problem_of(encode(Message{Hello{3, 2, ""}})), DecodeProblem::bad_field);   // not a range
  EXPECT_EQ(problem_of(encode(Message{Welcome{0, 64, ""}})), DecodeProblem::bad_field);
  EXPECT_EQ(problem_of(encode(Message{Welcome{1, 0, ""}})), DecodeProblem::bad_field);
  EXPECT_EQ(problem_of(encode(Message{Welcome{1, 65, ""}})), DecodeProblem::bad_field);

  EXPECT_EQ(problem_of(encode(Message{SocketsReply{1, 0, 0, "", ""}})), DecodeProblem::bad_field);       // no fds
  EXPECT_EQ(problem_of(encode(Message{SocketsReply{1, 0, 65, "", ""}})), DecodeProblem::bad_field);      // too many
  EXPECT_EQ(problem_of(encode(Message{SocketsReply{1, EACCES, 2, "x", ""}})), DecodeProblem::bad_field); // refusal + fds
  EXPECT_EQ(problem_of(encode(Message{SocketsReply{1, -5, 0, "x", ""}})), DecodeProblem::bad_field);
  EXPECT_EQ(problem_of(encode(Message{ErrorMessage{0, "x", ""}})), DecodeProblem::bad_field);
  EXPECT_EQ(problem_of(encode(Message{ErrorMessage{5000, "x", ""}})), DecodeProblem::bad_field);

  // A text length above its limit is refused from the length, before the bytes are looked for.
  std::string reply = encode(Message{SocketsReply{1, EACCES, 0, "", ""}});
  reply[reply.size() - 2] = static_cast<char>(0x05);  // message length 0x0500 = 1280 > kMaxText
  auto decoded = decode(reply + std::string(1280, 'm'));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decode_problem(decoded.error()), DecodeProblem::bad_field);
}

TEST(ServiceMessages, EveryProblemHasItsOwnErrno) {
  for (std::size_t i = 0; i < kDecodeProblems; ++i) {
    const auto p = static_cast<DecodeProblem>(i);
    EXPECT_EQ(decode_problem(decode_error(p, "x")), p) << to_string(p);
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(errno_of(p), errno_of(static_cast<DecodeProblem>(j)));
  }
}

TEST(ServiceMessages, VersionsAreNegotiated) {
  auto v = negotiate_version(Hello{1, 9, ""});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, kHighestVersion);
  auto one = negotiate_version(Hello{1, 1, ""});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, 1);  // a version-1 client still gets sockets; sessions need 2
  auto none = negotiate_version(Hello{3, 9, ""});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, EPROTONOSUPPORT);
  EXPECT_NE(none.error().message.find("the client speaks versions 3..9, dmm-stackd 1..2"), std::string::npos)
      << none.error().message;
}

}  // namespace
}  // namespace dmm::service
