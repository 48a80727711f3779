#include "dmm/nrd/wire.hpp"

#include <gtest/gtest.h>

using namespace dmm;
using namespace dmm::nrd;

namespace {

std::string header(std::uint8_t m0, std::uint8_t m1, std::uint8_t version, std::uint8_t type, std::uint32_t length) {
  std::string h{static_cast<char>(m0), static_cast<char>(m1), static_cast<char>(version), static_cast<char>(type)};
  for (int shift = 24; shift >= 0; shift -= 8) h.push_back(static_cast<char>((length >> shift) & 0xff));
  return h;
}

Error first_error(FrameReader& reader) {
  auto f = reader.next();
  EXPECT_FALSE(f.ok());
  return f.ok() ? Error{} : f.error();
}

TEST(Wire, FramesRoundTripWhateverTheChunking) {
  const std::string stream = encode_frame(MessageType::hello, "{\"a\":1}") + encode_frame(MessageType::heartbeat, "{}") +
                             encode_frame(MessageType::status_request, "");
  for (std::size_t chunk : {1u, 3u, 8u, 9u, 1000u}) {
    FrameReader reader;
    std::vector<Frame> frames;
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
      reader.feed(std::string_view(stream).substr(i, chunk));
      while (true) {
        auto f = reader.next();
        ASSERT_TRUE(f.ok()) << f.error().message;
        if (!*f) break;
        frames.push_back(std::move(**f));
      }
    }
    ASSERT_EQ(frames.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(frames[0].type, MessageType::hello);
    EXPECT_EQ(frames[0].body, "{\"a\":1}");
    EXPECT_EQ(frames[1].type, MessageType::heartbeat);
    EXPECT_EQ(frames[2].body, "");
    EXPECT_TRUE(reader.finish().ok());
    EXPECT_EQ(reader.buffered(), 0u);
  }
}

TEST(Wire, HeaderSaysLengthBigEndianAfterMagicVersionType) {
  const std::string f = encode_frame(MessageType::policy, std::string(300, 'x'));
  ASSERT_EQ(f.size(), kHeaderBytes + 300);
  EXPECT_EQ(f.substr(0, kHeaderBytes), header('D', 'N', kProtocolVersion, 3, 300));
}

TEST(Wire, GarbageIsBadMagic) {
  FrameReader reader;
  reader.feed("GET /metrics HTTP/1.1\r\n");
  const Error e = first_error(reader);
  EXPECT_EQ(decode_problem(e), DecodeProblem::bad_magic);
  EXPECT_NE(e.message.find("not a dmm-nrd frame"), std::string::npos);
  EXPECT_TRUE(reader.failed());
  reader.feed(encode_frame(MessageType::hello, "{}"));  // framing is lost for good
  EXPECT_FALSE(reader.next().ok());
}

TEST(Wire, AnotherProtocolVersionIsRefused) {
  FrameReader reader;
  reader.feed(header('D', 'N', 2, 1, 2) + "{}");
  const Error e = first_error(reader);
  EXPECT_EQ(decode_problem(e), DecodeProblem::wrong_version);
  EXPECT_NE(e.message.find("protocol version 2, this side speaks 1"), std::string::npos) << e.message;
}

TEST(Wire, OversizedIsRefusedFromTheHeaderAlone) {
  FrameReader reader(1024);
  reader.feed(header('D', 'N', kProtocolVersion, 4, 1025));  // no body sent: nothing is buffered for it
  const Error e = first_error(reader);
  EXPECT_EQ(decode_problem(e), DecodeProblem::oversized);
  EXPECT_NE(e.message.find("samples message of 1025 bytes, the limit is 1024"), std::string::npos) << e.message;
  FrameReader huge;
  huge.feed(header('D', 'N', kProtocolVersion, 4, 0xffffffffu));
  EXPECT_EQ(decode_problem(first_error(huge)), DecodeProblem::oversized);
}

TEST(Wire, UnknownTypesAreRefused) {
  for (std::uint8_t type : {std::uint8_t{0}, std::uint8_t{kLastMessageType + 1}, std::uint8_t{255}}) {
    FrameReader reader;
    reader.feed(header('D', 'N', kProtocolVersion, type, 0));
    EXPECT_EQ(decode_problem(first_error(reader)), DecodeProblem::unknown_type) << int(type);
  }
}

TEST(Wire, AStreamEndingInsideAFrameIsTruncated) {
  FrameReader in_header;
  in_header.feed(std::string_view("DN\x01", 3));
  ASSERT_TRUE(in_header.next().ok());
  EXPECT_EQ(decode_problem(in_header.finish().error()), DecodeProblem::truncated);
  EXPECT_NE(in_header.finish().error().message.find("3 bytes into a frame header"), std::string::npos);

  FrameReader in_body;
  const std::string f = encode_frame(MessageType::samples, "{\"samples\":[]}");
  in_body.feed(std::string_view(f).substr(0, f.size() - 1));
  auto none = in_body.next();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  const Status end = in_body.finish();
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(decode_problem(end.error()), DecodeProblem::truncated);
  EXPECT_NE(end.error().message.find("into a samples frame"), std::string::npos) << end.error().message;
}

TEST(Wire, ProblemsHaveNamesAndDistinctErrnos) {
  std::set<int> codes;
  for (auto p : {DecodeProblem::bad_magic, DecodeProblem::wrong_version, DecodeProblem::oversized,
                 DecodeProblem::truncated, DecodeProblem::unknown_type, DecodeProblem::malformed}) {
    const Error e = decode_error(p, "x");
    EXPECT_EQ(decode_problem(e), p);
    EXPECT_NE(to_string(p), "?");
    codes.insert(e.code);
  }
  EXPECT_EQ(codes.size(), kDecodeProblems);
  EXPECT_EQ(to_string(MessageType::push_result), "push_result");
}

TEST(Wire, DecodeHeaderNeedsExactlyEightBytes) {
  const std::string h = header('D', 'N', kProtocolVersion, 1, 0);
  EXPECT_TRUE(decode_header(std::as_bytes(std::span(h.data(), 8)), 10).ok());
  EXPECT_EQ(decode_problem(decode_header(std::as_bytes(std::span(h.data(), 7)), 10).error()), DecodeProblem::truncated);
}

}  // namespace
