#pragma once
// The framing of dmm-nrd's sync protocol: pure functions over byte buffers (no sockets, no clock), shared by the
// daemon, the orchestrators' subscription (the preload shim, tools) and the fuzz target.
//
// A frame is an 8-byte header and a body:
//   bytes 0-1  magic 'D' 'N'      (garbage and other protocols are told apart at once)
//   byte  2    protocol version    (kProtocolVersion; anything else is refused, never guessed)
//   byte  3    message type        (MessageType)
//   bytes 4-7  body length         (unsigned, big-endian; at most the receiver's limit, never above kHardMaxBody)
//   body       one JSON object     (messages.hpp says which keys each type carries)
// The length comes first so that a reader refuses an oversized frame from its header, before buffering any of it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dmm/result.hpp"

namespace dmm::nrd {

inline constexpr std::uint8_t kMagic0 = 'D';
inline constexpr std::uint8_t kMagic1 = 'N';
inline constexpr std::uint8_t kProtocolVersion = 1;
inline constexpr std::size_t kHeaderBytes = 8;
// A policy of 100,000 rules is about 8 MiB of JSON; nothing legitimate is larger.
inline constexpr std::size_t kHardMaxBody = 16u << 20;
inline constexpr std::size_t kDefaultMaxBody = 1u << 20;

enum class MessageType : std::uint8_t {
  hello = 1,           // client -> daemon: who I am, what I hold, what I want
  welcome = 2,         // daemon -> client: accepted; the daemon's version and heartbeat interval
  policy = 3,          // daemon -> subscriber: a full policy (the object of a policy.jsonl line)
  samples = 4,         // client -> daemon: path samples from sessions
  heartbeat = 5,       // both ways: I am alive, and the version I hold
  error = 6,           // daemon -> client: why it is about to close the connection
  status_request = 7,  // dmm-ctl -> daemon
  status = 8,          // daemon -> dmm-ctl: stacks, estimates, policy, peers, counters
  push_policy = 9,     // dmm-ctl -> daemon: publish this policy now
  push_result = 10,    // daemon -> dmm-ctl
  decision = 11,       // daemon -> watchers: one per nRD period (estimates, version, whether it published)
};
inline constexpr std::uint8_t kLastMessageType = 11;

std::string_view to_string(MessageType type);

// Why bytes were refused. Each is counted separately by the daemon; the errno in the Error (decode_problem
// maps it back) keeps the Result<T> errno-shaped like the rest of the project.
enum class DecodeProblem : std::uint8_t {
  bad_magic,      // not this protocol (garbage, an HTTP request, ...)            EPROTO
  wrong_version,  // this protocol, another version                               EPROTONOSUPPORT
  oversized,      // body length above the receiver's limit                       EMSGSIZE
  truncated,      // the stream ended inside a frame                              ENODATA
  unknown_type,   // a type number this version does not define                   EBADMSG
  malformed,      // the body is not valid JSON or not the shape the type needs   EINVAL
};
inline constexpr std::size_t kDecodeProblems = 6;

std::string_view to_string(DecodeProblem problem);
Error decode_error(DecodeProblem problem, std::string message);
// The problem an Error from this library stands for; malformed for errors from elsewhere.
DecodeProblem decode_problem(const Error& error);

struct FrameHeader {
  MessageType type;
  std::uint32_t body_bytes = 0;
};

// Checks a header (exactly kHeaderBytes) against the magic, the version, the known types and `max_body`.
Result<FrameHeader> decode_header(std::span<const std::byte> header, std::size_t max_body);

// Header + body. The body must not exceed kHardMaxBody (a bug otherwise: senders build bodies themselves).
std::string encode_frame(MessageType type, std::string_view body);

struct Frame {
  MessageType type;
  std::string body;
};

// Cuts a byte stream into frames. Feed whatever arrived; take frames until none is complete. After an error
// the stream cannot be trusted any further (framing is lost): the reader stays failed.
class FrameReader {
public:
  explicit FrameReader(std::size_t max_body = kDefaultMaxBody) : max_body_(max_body) {}

  void feed(std::span<const std::byte> bytes);
  void feed(std::string_view bytes) { feed(std::as_bytes(std::span(bytes.data(), bytes.size()))); }
  // The next complete frame; nullopt when more bytes are needed. An error for a bad header (as soon as its 8
  // bytes are in, whatever follows).
  Result<std::optional<Frame>> next();
  // The stream ended: an error (truncated) if it ended inside a frame.
  Status finish() const;

  std::size_t buffered() const { return buffer_.size() - consumed_; }
  bool failed() const { return failed_.has_value(); }

private:
  std::size_t max_body_;
  std::vector<std::byte> buffer_;
  std::size_t consumed_ = 0;
  std::optional<FrameHeader> header_;  // of the frame being assembled
  std::optional<Error> failed_;
};

}  // namespace dmm::nrd
