#include "dmm/nrd/wire.hpp"

#include <array>
#include <cstring>
#include <stdexcept>

namespace dmm::nrd {
namespace {

struct ProblemInfo {
  DecodeProblem problem;
  std::string_view name;
  int code;
};

constexpr std::array<ProblemInfo, kDecodeProblems> kProblems{{
    {DecodeProblem::bad_magic, "bad_magic", EPROTO},
    {DecodeProblem::wrong_version, "wrong_version", EPROTONOSUPPORT},
    {DecodeProblem::oversized, "oversized", EMSGSIZE},
    {DecodeProblem::truncated, "truncated", ENODATA},
    {DecodeProblem::unknown_type, "unknown_type", EBADMSG},
    {DecodeProblem::malformed, "malformed", EINVAL},
}};

constexpr std::array<std::string_view, kLastMessageType + 1> kTypeNames{
    "?",      "hello",          "welcome", "policy",      "samples",     "heartbeat",
    "error",  "status_request", "status",  "push_policy", "push_result", "decision"};

std::uint8_t byte_at(std::span<const std::byte> bytes, std::size_t i) { return std::to_integer<std::uint8_t>(bytes[i]); }

}  // namespace

std::string_view to_string(MessageType type) {
  const auto i = static_cast<std::size_t>(type);
  return i < kTypeNames.size() ? kTypeNames[i] : kTypeNames[0];
}

std::string_view to_string(DecodeProblem problem) {
  for (const auto& p : kProblems)
    if (p.problem == problem) return p.name;
  return "?";
}

Error decode_error(DecodeProblem problem, std::string message) {
  for (const auto& p : kProblems)
    if (p.problem == problem) return make_error(p.code, std::move(message));
  return make_error(EINVAL, std::move(message));
}

DecodeProblem decode_problem(const Error& error) {
  for (const auto& p : kProblems)
    if (p.code == error.code) return p.problem;
  return DecodeProblem::malformed;
}

Result<FrameHeader> decode_header(std::span<const std::byte> header, std::size_t max_body) {
  if (header.size() != kHeaderBytes)
    return decode_error(DecodeProblem::truncated, "a frame header is " + std::to_string(kHeaderBytes) +
                                                      " bytes, got " + std::to_string(header.size()));
  if (byte_at(header, 0) != kMagic0 || byte_at(header, 1) != kMagic1)
    return decode_error(DecodeProblem::bad_magic, "not a dmm-nrd frame (the first two bytes are not 'DN')");
  if (byte_at(header, 2) != kProtocolVersion)
    return decode_error(DecodeProblem::wrong_version, "protocol version " + std::to_string(byte_at(header, 2)) +
                                                          ", this side speaks " + std::to_string(kProtocolVersion));
  const std::uint8_t type = byte_at(header, 3);
  if (type == 0 || type > kLastMessageType)
    return decode_error(DecodeProblem::unknown_type, "unknown message type " + std::to_string(type));
  const std::uint32_t length = (std::uint32_t{byte_at(header, 4)} << 24) | (std::uint32_t{byte_at(header, 5)} << 16) |
                               (std::uint32_t{byte_at(header, 6)} << 8) | std::uint32_t{byte_at(header, 7)};
  const std::size_t limit = std::min(max_body, kHardMaxBody);
  if (length > limit)
    return decode_error(DecodeProblem::oversized, std::string(to_string(MessageType{type})) + " message of " +
                                                      std::to_string(length) + " bytes, the limit is " +
                                                      std::to_string(limit));
  return FrameHeader{MessageType{type}, length};
}

std::string encode_frame(MessageType type, std::string_view body) {
  if (body.size() > kHardMaxBody)
    throw std::length_error("nrd frame body of " + std::to_string(body.size()) + " bytes exceeds the protocol's limit");
  const auto n = static_cast<std::uint32_t>(body.size());
  std::string frame;
  frame.reserve(kHeaderBytes + body.size());
  frame.push_back(static_cast<char>(kMagic0));
  frame.push_back(static_cast<char>(kMagic1));
  frame.push_back(static_cast<char>(kProtocolVersion));
  frame.push_back(static_cast<char>(type));
  for (int shift = 24; shift >= 0; shift -= 8) frame.push_back(static_cast<char>((n >> shift) & 0xff));
  frame.append(body);
  return frame;
}

void FrameReader::feed(std::span<const std::byte> bytes) {
  if (failed_ || bytes.empty()) return;
  // Drop what earlier frames used before growing, so the buffer stays about one frame large.
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

Result<std::optional<Frame>> FrameReader::next() {
  if (failed_) return *failed_;
  const std::span<const std::byte> pending(buffer_.data() + consumed_, buffer_.size() - consumed_);
  if (!header_) {
    if (pending.size() < kHeaderBytes) return std::optional<Frame>{};
    auto header = decode_header(pending.first(kHeaderBytes), max_body_);
    if (!header) {
      failed_ = header.error();
      return header.error();
    }
    header_ = *header;
  }
  const std::size_t total = kHeaderBytes + header_->body_bytes;
  if (pending.size() < total) return std::optional<Frame>{};
  Frame frame{header_->type,
              std::string(reinterpret_cast<const char*>(pending.data()) + kHeaderBytes, header_->body_bytes)};
  consumed_ += total;
  header_.reset();
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  return std::optional<Frame>(std::move(frame));
}

Status FrameReader::finish() const {
  if (failed_) return *failed_;
  const std::size_t left = buffered();
  if (left == 0) return {};
  return decode_error(DecodeProblem::truncated,
                      "the stream ended " + std::to_string(left) + " bytes into a " +
                          (header_ ? std::string(to_string(header_->type)) + " frame of " +
                                         std::to_string(kHeaderBytes + header_->body_bytes) + " bytes"
                                   : std::string("frame header")));
}

}  // namespace dmm::nrd
