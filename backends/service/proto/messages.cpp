// The codec of dmm-stackd's protocol (messages.hpp): a writer that appends fields, a reader that takes them and
// names the first problem. Decoding is the boundary where a peer's bytes become values, so every length is checked
// against what is left before it is used, and nothing is trusted past the first problem.
#include "dmm/service/messages.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>
#include <vector>

namespace dmm::service {
namespace {

constexpr std::array<std::pair<DecodeProblem, int>, kDecodeProblems> kErrnos{{
    {DecodeProblem::bad_magic, EPROTO},
    {DecodeProblem::wrong_version, EPROTONOSUPPORT},
    {DecodeProblem::unknown_type, EBADMSG},
    {DecodeProblem::truncated, ENODATA},
    {DecodeProblem::trailing, EOVERFLOW},
    {DecodeProblem::oversized, EMSGSIZE},
    {DecodeProblem::bad_field, EINVAL},
}};

class Writer {
public:
  Writer(MessageType type, std::uint8_t version, std::uint32_t id) {
    out_.reserve(64);
    u8(kMagic0);
    u8(kMagic1);
    u8(version);
    u8(static_cast<std::uint8_t>(type));
    u32(id);
  }
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v >> 8));
    u8(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
  }
  void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  void endpoint(const Endpoint& e) {
    u8(e.address.family == IpFamily::v4 ? 4 : 6);
    for (std::uint8_t b : e.address.bytes) u8(b);
    u16(e.port);
  }
  // Clipped to the field's limit: encode() never makes a message the other side must refuse for its size.
  void name(std::string_view s) {
    const std::string_view clipped = s.substr(0, kMaxName);
    u8(static_cast<std::uint8_t>(clipped.size()));
    out_.append(clipped);
  }
  void text(std::string_view s) {
    const std::string_view clipped = s.substr(0, kMaxText);
    u16(static_cast<std::uint16_t>(clipped.size()));
    out_.append(clipped);
  }
  std::string take() { return std::move(out_); }

private:
  std::string out_;
};

// Reads fields in order; the first shortage fails as `truncated`, naming the message type and the field.
class Reader {
public:
  Reader(std::span<const std::byte> bytes, MessageType type) : bytes_(bytes), type_(type) {}

  Result<std::uint8_t> u8(const char* field) {
    if (left() < 1) return short_of(field);
    return static_cast<std::uint8_t>(bytes_[pos_++]);
  }
  Result<std::uint16_t> u16(const char* field) {
    if (left() < 2) return short_of(field);
    const auto v = static_cast<std::uint16_t>((byte(0) << 8) | byte(1));
    pos_ += 2;
    return v;
  }
  Result<std::uint32_t> u32(const char* field) {
    if (left() < 4) return short_of(field);
    const std::uint32_t v = (std::uint32_t{byte(0)} << 24) | (std::uint32_t{byte(1)} << 16) |
                            (std::uint32_t{byte(2)} << 8) | std::uint32_t{byte(3)};
    pos_ += 4;
    return v;
  }
  Result<std::int32_t> i32(const char* field) {
    auto v = u32(field);
    if (!v) return v.error();
    return static_cast<std::int32_t>(*v);
  }
  Result<std::uint64_t> u64(const char* field) {
    auto high = u32(field);
    if (!high) return high.error();
    auto low = u32(field);
    if (!low) return low.error();
    return (std::uint64_t{*high} << 32) | *low;
  }
  // u8 family (4 or 6), 16 address bytes (IPv4: the first 4, the rest zero), u16 port.
  Result<Endpoint> endpoint(const char* field) {
    auto family = u8(field);
    if (!family) return family.error();
    if (*family != 4 && *family != 6)
      return bad(std::string(field) + " has address family " + std::to_string(*family) + " (4 or 6)");
    Endpoint e;
    e.address.family = *family == 4 ? IpFamily::v4 : IpFamily::v6;
    for (std::size_t i = 0; i < 16; ++i) {
      auto b = u8(field);
      if (!b) return b.error();
      e.address.bytes[i] = *b;
    }
    if (*family == 4)
      for (std::size_t i = 4; i < 16; ++i)
        if (e.address.bytes[i] != 0) return bad(std::string(field) + " is IPv4 with bytes past its fourth");
    auto port = u16(field);
    if (!port) return port.error();
    e.port = *port;
    return e;
  }
  Result<std::string> name(const char* field) {
    auto n = u8(field);
    if (!n) return n.error();
    return chars(*n, field);
  }
  Result<std::string> text(const char* field) {
    auto n = u16(field);
    if (!n) return n.error();
    if (*n > kMaxText)
      return bad(std::string(field) + " is " + std::to_string(*n) + " bytes, more than " + std::to_string(kMaxText));
    return chars(*n, field);
  }
  // Nothing may follow the last field.
  Status end() const {
    if (left() == 0) return {};
    return decode_error(DecodeProblem::trailing, prefix() + std::to_string(left()) + " bytes after the last field");
  }
  Error bad(const std::string& what) const { return decode_error(DecodeProblem::bad_field, prefix() + what); }

private:
  std::size_t left() const { return bytes_.size() - pos_; }
  unsigned byte(std::size_t i) const { return static_cast<unsigned>(bytes_[pos_ + i]); }
  std::string prefix() const { return std::string(to_string(type_)) + ": "; }
  Error short_of(const char* field) const {
    return decode_error(DecodeProblem::truncated, prefix() + "ends before " + field);
  }
  Result<std::string> chars(std::size_t n, const char* field) {
    if (left() < n) return short_of(field);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  std::span<const std::byte> bytes_;
  std::size_t pos_ = kHeaderBytes;
  MessageType type_;
};

// Each decode_* reads its body; `TRY` keeps the field-after-field reading one line per field.
#define DMM_TRY(var, expr)           \
  auto var##_r = (expr);             \
  if (!var##_r) return var##_r.error(); \
  auto var = std::move(*var##_r)

Result<Message> decode_hello(Reader& r) {
  DMM_TRY(lowest, r.u8("lowest_version"));
  DMM_TRY(highest, r.u8("highest_version"));
  DMM_TRY(client, r.name("client"));
  if (Status s = r.end(); !s) return s.error();
  if (lowest == 0 || highest < lowest)
    return r.bad("versions " + std::to_string(lowest) + ".." + std::to_string(highest) + " are not a range of versions");
  return Message{Hello{lowest, highest, std::move(client)}};
}

Result<Message> decode_welcome(Reader& r) {
  DMM_TRY(version, r.u8("version"));
  DMM_TRY(max_sockets, r.u8("max_sockets"));
  DMM_TRY(daemon, r.name("daemon"));
  if (Status s = r.end(); !s) return s.error();
  if (version == 0) return r.bad("version 0 is not a version");
  if (max_sockets == 0 || max_sockets > kMaxSocketsPerRequest)
    return r.bad("max_sockets " + std::to_string(max_sockets) + " is outside 1.." + std::to_string(kMaxSocketsPerRequest));
  return Message{Welcome{version, max_sockets, std::move(daemon)}};
}

Result<Message> decode_sockets(Reader& r, std::uint32_t id) {
  DMM_TRY(stack, r.name("stack"));
  DMM_TRY(domain, r.i32("domain"));
  DMM_TRY(type, r.i32("type"));
  DMM_TRY(protocol, r.i32("protocol"));
  DMM_TRY(count, r.u8("count"));
  if (Status s = r.end(); !s) return s.error();
  if (stack.empty()) return r.bad("empty stack name");
  if (stack.find('\0') != std::string::npos) return r.bad("a stack name cannot contain a NUL byte");
  if (count == 0 || count > kMaxSocketsPerRequest)
    return r.bad("count " + std::to_string(count) + " is outside 1.." + std::to_string(kMaxSocketsPerRequest));
  // The kind (domain, type, protocol) is not judged here: a refused kind is a request the daemon answers (EINVAL,
  // refused_kind) and the connection goes on; only bytes that are not a request end it.
  return Message{SocketsRequest{id, std::move(stack), domain, type, protocol, count}};
}

Result<Message> decode_reply(Reader& r, std::uint32_t id) {
  DMM_TRY(error, r.i32("errno"));
  DMM_TRY(fds, r.u8("fds"));
  DMM_TRY(reason, r.name("reason"));
  DMM_TRY(message, r.text("message"));
  if (Status s = r.end(); !s) return s.error();
  if (error < 0 || error > 4095) return r.bad("errno " + std::to_string(error) + " is not an errno");
  if (error == 0 && (fds == 0 || fds > kMaxSocketsPerRequest))
    return r.bad("a granted reply carries 1.." + std::to_string(kMaxSocketsPerRequest) + " fds, not " + std::to_string(fds));
  if (error != 0 && fds != 0) return r.bad("a refusal carries no fds, not " + std::to_string(fds));
  return Message{SocketsReply{id, error, fds, std::move(reason), std::move(message)}};
}

Result<Message> decode_error_message(Reader& r) {
  DMM_TRY(error, r.i32("errno"));
  DMM_TRY(reason, r.name("reason"));
  DMM_TRY(message, r.text("message"));
  if (Status s = r.end(); !s) return s.error();
  if (error <= 0 || error > 4095) return r.bad("errno " + std::to_string(error) + " is not an errno");
  return Message{ErrorMessage{error, std::move(reason), std::move(message)}};
}

Result<Message> decode_open(Reader& r, std::uint32_t id) {
  DMM_TRY(stack, r.name("stack"));
  DMM_TRY(proto, r.u8("proto"));
  DMM_TRY(destination, r.endpoint("destination"));
  DMM_TRY(flags, r.u8("flags"));
  if (Status s = r.end(); !s) return s.error();
  if (stack.empty()) return r.bad("empty stack name");
  if (stack.find('\0') != std::string::npos) return r.bad("a stack name cannot contain a NUL byte");
  if (proto != 6 && proto != 17) return r.bad("proto " + std::to_string(proto) + " (6 tcp, 17 udp)");
  if (destination.port == 0) return r.bad("destination port 0");
  if ((flags & ~1u) != 0) return r.bad("flags " + std::to_string(flags) + " (only bit 0 is defined)");
  return Message{OpenRequest{id, std::move(stack), proto == 6 ? L4Proto::tcp : L4Proto::udp, destination,
                             (flags & 1u) != 0}};
}

Result<Message> decode_opened(Reader& r, std::uint32_t id) {
  DMM_TRY(error, r.i32("errno"));
  DMM_TRY(session, r.u64("session"));
  DMM_TRY(reason, r.name("reason"));
  DMM_TRY(message, r.text("message"));
  if (Status s = r.end(); !s) return s.error();
  if (error < 0 || error > 4095) return r.bad("errno " + std::to_string(error) + " is not an errno");
  if ((error == 0) != (session != 0)) return r.bad("an opened session has an id, a refusal none");
  return Message{OpenReply{id, error, session, std::move(reason), std::move(message)}};
}

Result<Message> decode_status(Reader& r, std::uint32_t id) {
  DMM_TRY(session, r.u64("session"));
  if (Status s = r.end(); !s) return s.error();
  if (session == 0) return r.bad("session 0");
  return Message{StatusRequest{id, session}};
}

Result<Message> decode_session(Reader& r, std::uint32_t id) {
  DMM_TRY(session, r.u64("session"));
  DMM_TRY(state, r.u8("state"));
  DMM_TRY(error, r.i32("errno"));
  DMM_TRY(local, r.endpoint("local"));
  DMM_TRY(message, r.text("message"));
  if (Status s = r.end(); !s) return s.error();
  if (state > kLastSessionState) return r.bad("state " + std::to_string(state));
  if (error < 0 || error > 4095) return r.bad("errno " + std::to_string(error) + " is not an errno");
  return Message{StatusReply{id, session, static_cast<SessionState>(state), error, local, std::move(message)}};
}

template <typename Request>
std::string encode_local_request(MessageType type, const Request& m) {
  Writer w(type, 2, m.id);
  w.u8(static_cast<std::uint8_t>((m.nonblocking ? 1 : 0) | (m.v6only ? 2 : 0)));
  w.endpoint(m.local);
  if constexpr (std::is_same_v<Request, BindRequest>) {
    Endpoint none;
    none.address.family = m.local.address.family;
    w.endpoint(m.first_destination.value_or(none));
  }
  w.name(m.stack);
  return w.take();
}

// listen and bind share their body: u8 flags (bit 0 non-blocking, bit 1 IPv6 only), endpoint local, [bind: endpoint
// first destination, port 0 for none,] name stack.
template <typename Request>
Result<Message> decode_local_request(Reader& r, std::uint32_t id) {
  DMM_TRY(flags, r.u8("flags"));
  DMM_TRY(local, r.endpoint("local"));
  std::optional<Endpoint> first_destination;
  if constexpr (std::is_same_v<Request, BindRequest>) {
    DMM_TRY(to, r.endpoint("first destination"));
    if (to.port != 0) first_destination = to;
  }
  DMM_TRY(stack, r.name("stack"));
  if (Status s = r.end(); !s) return s.error();
  if (stack.empty()) return r.bad("empty stack name");
  if (stack.find('\0') != std::string::npos) return r.bad("a stack name cannot contain a NUL byte");
  if ((flags & ~3u) != 0) return r.bad("flags " + std::to_string(flags) + " (only bits 0 and 1 are defined)");
  Request request{id, std::move(stack), local, (flags & 1u) != 0, (flags & 2u) != 0};
  if constexpr (std::is_same_v<Request, BindRequest>) request.first_destination = first_destination;
  return Message{std::move(request)};
}

Result<Message> decode_listening(Reader& r, std::uint32_t id) {
  DMM_TRY(error, r.i32("errno"));
  DMM_TRY(listener, r.u64("listener"));
  DMM_TRY(local, r.endpoint("local"));
  DMM_TRY(reason, r.name("reason"));
  DMM_TRY(message, r.text("message"));
  if (Status s = r.end(); !s) return s.error();
  if (error < 0 || error > 4095) return r.bad("errno " + std::to_string(error) + " is not an errno");
  if ((error == 0) != (listener != 0)) return r.bad("a listener has an id, a refusal none");
  return Message{ListenReply{id, error, listener, local, std::move(reason), std::move(message)}};
}

#undef DMM_TRY

}  // namespace

std::string_view to_string(MessageType type) {
  switch (type) {
    case MessageType::hello: return "hello";
    case MessageType::welcome: return "welcome";
    case MessageType::sockets: return "sockets";
    case MessageType::reply: return "reply";
    case MessageType::error: return "error";
    case MessageType::open: return "open";
    case MessageType::opened: return "opened";
    case MessageType::status: return "status";
    case MessageType::session: return "session";
    case MessageType::listen: return "listen";
    case MessageType::listening: return "listening";
    case MessageType::bind: return "bind";
  }
  return "unknown";
}

std::string_view to_string(SessionState state) {
  switch (state) {
    case SessionState::connecting: return "connecting";
    case SessionState::established: return "established";
    case SessionState::failed: return "failed";
    case SessionState::closed: return "closed";
  }
  return "closed";
}

std::string_view to_string(DecodeProblem problem) {
  switch (problem) {
    case DecodeProblem::bad_magic: return "bad_magic";
    case DecodeProblem::wrong_version: return "wrong_version";
    case DecodeProblem::unknown_type: return "unknown_type";
    case DecodeProblem::truncated: return "truncated";
    case DecodeProblem::trailing: return "trailing";
    case DecodeProblem::oversized: return "oversized";
    case DecodeProblem::bad_field: return "bad_field";
  }
  return "bad_field";
}

int errno_of(DecodeProblem problem) {
  for (const auto& [p, code] : kErrnos)
    if (p == problem) return code;
  return EINVAL;
}

Error decode_error(DecodeProblem problem, const std::string& message) {
  return make_error(errno_of(problem), std::string(to_string(problem)) + ": " + message);
}

DecodeProblem decode_problem(const Error& error) {
  for (const auto& [p, code] : kErrnos)
    if (code == error.code) return p;
  return DecodeProblem::bad_field;
}

MessageType type_of(const Message& message) {
  return static_cast<MessageType>(message.index() + 1);  // the variant's order is the type numbers'
}

std::string encode(const Message& message) {
  struct Encode {
    std::string operator()(const Hello& m) const {
      Writer w(MessageType::hello, 1, 0);
      w.u8(m.lowest_version);
      w.u8(m.highest_version);
      w.name(m.client);
      return w.take();
    }
    std::string operator()(const Welcome& m) const {
      Writer w(MessageType::welcome, 1, 0);
      w.u8(m.version);
      w.u8(m.max_sockets);
      w.name(m.daemon);
      return w.take();
    }
    std::string operator()(const SocketsRequest& m) const {
      Writer w(MessageType::sockets, kHighestVersion, m.id);
      w.name(m.stack);
      w.i32(m.domain);
      w.i32(m.type);
      w.i32(m.protocol);
      w.u8(m.count);
      return w.take();
    }
    std::string operator()(const SocketsReply& m) const {
      Writer w(MessageType::reply, kHighestVersion, m.id);
      w.i32(m.error);
      w.u8(m.fds);
      w.name(m.reason);
      w.text(m.message);
      return w.take();
    }
    std::string operator()(const ErrorMessage& m) const {
      Writer w(MessageType::error, kHighestVersion, 0);
      w.i32(m.error);
      w.name(m.reason);
      w.text(m.message);
      return w.take();
    }
    std::string operator()(const OpenRequest& m) const {
      Writer w(MessageType::open, 2, m.id);
      w.name(m.stack);
      w.u8(m.proto == L4Proto::tcp ? 6 : 17);
      w.endpoint(m.destination);
      w.u8(m.nonblocking ? 1 : 0);
      return w.take();
    }
    std::string operator()(const OpenReply& m) const {
      Writer w(MessageType::opened, 2, m.id);
      w.i32(m.error);
      w.u64(m.session);
      w.name(m.reason);
      w.text(m.message);
      return w.take();
    }
    std::string operator()(const StatusRequest& m) const {
      Writer w(MessageType::status, 2, m.id);
      w.u64(m.session);
      return w.take();
    }
    std::string operator()(const ListenRequest& m) const { return encode_local_request(MessageType::listen, m); }
    std::string operator()(const BindRequest& m) const { return encode_local_request(MessageType::bind, m); }
    std::string operator()(const ListenReply& m) const {
      Writer w(MessageType::listening, 2, m.id);
      w.i32(m.error);
      w.u64(m.listener);
      w.endpoint(m.local);
      w.name(m.reason);
      w.text(m.message);
      return w.take();
    }
    std::string operator()(const StatusReply& m) const {
      Writer w(MessageType::session, 2, m.id);
      w.u64(m.session);
      w.u8(static_cast<std::uint8_t>(m.state));
      w.i32(m.error);
      w.endpoint(m.local);
      w.text(m.message);
      return w.take();
    }
  };
  return std::visit(Encode{}, message);
}

Result<Message> decode(std::span<const std::byte> bytes) {
  if (bytes.size() > kMaxMessage)
    return decode_error(DecodeProblem::oversized,
                        std::to_string(bytes.size()) + " bytes, more than " + std::to_string(kMaxMessage));
  // The magic first, even in a short message: garbage should be called garbage, not "truncated".
  if ((bytes.size() >= 1 && static_cast<std::uint8_t>(bytes[0]) != kMagic0) ||
      (bytes.size() >= 2 && static_cast<std::uint8_t>(bytes[1]) != kMagic1))
    return decode_error(DecodeProblem::bad_magic, "not a dmm-stackd message (it does not start with 'DS')");
  if (bytes.size() < kHeaderBytes)
    return decode_error(DecodeProblem::truncated,
                        std::to_string(bytes.size()) + " bytes, shorter than the " + std::to_string(kHeaderBytes) +
                            "-byte header");
  const auto version = static_cast<std::uint8_t>(bytes[2]);
  const auto type_number = static_cast<std::uint8_t>(bytes[3]);
  // Version 2 only adds message types; the daemon checks that a connection uses what its welcome chose.
  if (version < kLowestVersion || version > kHighestVersion)
    return decode_error(DecodeProblem::wrong_version, "version " + std::to_string(version) + " (this side speaks " +
                                                          std::to_string(kLowestVersion) + ".." +
                                                          std::to_string(kHighestVersion) + ")");
  if (type_number == 0 || type_number > kLastMessageType || (version == 1 && type_number > kLastVersion1Type))
    return decode_error(DecodeProblem::unknown_type, "message type " + std::to_string(type_number));
  const auto type = static_cast<MessageType>(type_number);
  const std::uint32_t id = (std::uint32_t{static_cast<std::uint8_t>(bytes[4])} << 24) |
                           (std::uint32_t{static_cast<std::uint8_t>(bytes[5])} << 16) |
                           (std::uint32_t{static_cast<std::uint8_t>(bytes[6])} << 8) |
                           std::uint32_t{static_cast<std::uint8_t>(bytes[7])};
  Reader r(bytes, type);
  switch (type) {
    case MessageType::hello: return decode_hello(r);
    case MessageType::welcome: return decode_welcome(r);
    case MessageType::sockets: return decode_sockets(r, id);
    case MessageType::reply: return decode_reply(r, id);
    case MessageType::error: return decode_error_message(r);
    case MessageType::open: return decode_open(r, id);
    case MessageType::opened: return decode_opened(r, id);
    case MessageType::status: return decode_status(r, id);
    case MessageType::session: return decode_session(r, id);
    case MessageType::listen: return decode_local_request<ListenRequest>(r, id);
    case MessageType::listening: return decode_listening(r, id);
    case MessageType::bind: return decode_local_request<BindRequest>(r, id);
  }
  return decode_error(DecodeProblem::unknown_type, "message type " + std::to_string(type_number));
}

std::string encode_accepted_header(const AcceptedHeader& header) {
  Writer w(MessageType::hello, 0, 0);  // only for its field writers: the 8 header bytes are replaced below
  std::string out = "DMMA";
  w.u64(header.session);
  w.endpoint(header.peer);
  w.endpoint(header.local);
  return out + w.take().substr(kHeaderBytes);
}

Result<AcceptedHeader> decode_accepted_header(std::span<const std::byte> bytes) {
  if (bytes.size() != kAcceptedHeaderBytes || std::memcmp(bytes.data(), "DMMA", 4) != 0)
    return decode_error(DecodeProblem::bad_magic, "not the header of an accepted connection (it starts with 'DMMA')");
  // The reader skips a message header; give it one.
  std::vector<std::byte> framed(kHeaderBytes);
  framed.insert(framed.end(), bytes.begin() + 4, bytes.end());
  Reader r(framed, MessageType::session);
  AcceptedHeader h;
  auto session = r.u64("session");
  if (!session) return session.error();
  auto peer = r.endpoint("peer");
  if (!peer) return peer.error();
  auto local = r.endpoint("local");
  if (!local) return local.error();
  h.session = *session;
  h.peer = *peer;
  h.local = *local;
  return h;
}

Result<std::uint8_t> negotiate_version(const Hello& hello) {
  const std::uint8_t low = std::max(hello.lowest_version, kLowestVersion);
  const std::uint8_t high = std::min(hello.highest_version, kHighestVersion);
  if (low > high)
    return decode_error(DecodeProblem::wrong_version,
                        "the client speaks versions " + std::to_string(hello.lowest_version) + ".." +
                            std::to_string(hello.highest_version) + ", dmm-stackd " + std::to_string(kLowestVersion) +
                            ".." + std::to_string(kHighestVersion));
  return high;
}

}  // namespace dmm::service
