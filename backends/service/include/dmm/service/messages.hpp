#pragma once
// dmm-stackd's protocol (backends/service/README.md): the messages and their codec, as pure functions over bytes (no
// sockets, no clock), shared by the daemon, the client the preload shim calls, and the fuzz target.
//
// Transport: a Unix-domain SOCK_SEQPACKET connection, one message per datagram. Why not a byte stream with length
// prefixes: the reply's file descriptors travel as SCM_RIGHTS ancillary data, which on a stream is attached to a
// byte range and may be split from or merged with the bytes it belongs to by a short read; a sequenced packet keeps
// message and descriptors together, atomically. It also makes the size limit the kernel's job (a datagram larger
// than the receiver's buffer arrives truncated, flagged MSG_TRUNC, and its tail is dropped, never buffered), and a
// message is never half there: a reader either has all of it or nothing. It is still connection-oriented, so
// SO_PEERCRED/SO_PEERGROUPS name the peer and a peer that goes away is seen (EOF, EPIPE).
//
// Every message: an 8-byte header, then the body of its type, all integers big-endian.
//   bytes 0-1  magic 'D' 'S'
//   byte  2    protocol version the message is written in. hello and welcome are always written in version 1 (so
//              that any daemon can read any client's hello and answer in a form it reads); every later message in
//              the version the welcome chose. Bytes 0-3 mean the same in every version.
//   byte  3    message type
//   bytes 4-7  request id: a sockets request's, echoed by its reply (0 in other messages)
// Strings are a length (u8 for names and reasons, u16 for messages) and that many bytes. Nothing may follow the last
// field (a later revision adds fields in a new version, which the hello negotiates), and no message exceeds
// kMaxMessage bytes.
//
//   hello    client -> daemon  u8 lowest version, u8 highest version, name client (a program name, for logs)
//   welcome  daemon -> client  u8 version chosen, u8 most sockets per request, name daemon
//   sockets  client -> daemon  name stack, i32 domain, i32 type (SOCK_NONBLOCK / SOCK_CLOEXEC may be or'ed in),
//                              i32 protocol, u8 count (1..kMaxSocketsPerRequest)
//   reply    daemon -> client  i32 errno (0: granted), u8 fds attached (SCM_RIGHTS; 0 when errno is set),
//                              name reason (empty when granted), text message
//   error    daemon -> client  i32 errno, name reason, text message: the daemon's last word before it closes
// Version 2 adds sessions of user-space stack instances, which the daemon runs (one process owns each port):
//   open     client -> daemon  name stack, u8 proto (6 tcp, 17 udp), endpoint destination, u8 flags (bit 0: the
//                              program's socket is non-blocking)
//   opened   daemon -> client  i32 errno (0: opened, one fd attached: the program's end of the session), u64
//                              session, name reason, text message
//   status   client -> daemon  u64 session
//   session  daemon -> client  u64 session, u8 state (SessionState), i32 errno (of a failed or reset session),
//                              endpoint local, text message
//   listen    client -> daemon u8 flags (bit 0: non-blocking, bit 1: IPv6 only), endpoint local (the any address: the instance's;
//                              port 0: the instance picks), name stack
//   listening daemon -> client i32 errno (0: listening, one fd attached: an AF_UNIX listener whose connections are
//                              the instance's), u64 listener, endpoint local (as bound), name reason, text message
//   bind      client -> daemon u8 flags (as listen's), endpoint local (the any address or the instance's; port 0:
//                              the instance picks), endpoint first destination (port 0: none; else checked for a
//                              route), name stack: an unconnected UDP socket (any peers), answered by `opened` (the
//                              fd: a real UDP socket bound as asked, whose datagrams the instance carries)
// Each connection a program accepts from such a listener starts with an AcceptedHeader (below), then the data.
// An endpoint is u8 family (4 or 6), 16 address bytes (an IPv4 address in the first 4, the rest zero), u16 port.
// A version-1 message of types 6..12 is unknown_type.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "dmm/address.hpp"
#include "dmm/result.hpp"
#include "dmm/session.hpp"

namespace dmm::service {

inline constexpr std::uint8_t kMagic0 = 'D';
inline constexpr std::uint8_t kMagic1 = 'S';
inline constexpr std::uint8_t kLowestVersion = 1;   // the versions this build speaks
inline constexpr std::uint8_t kHighestVersion = 2;
inline constexpr std::size_t kHeaderBytes = 8;
// The largest message of version 1 is a reply: 8 + 4 + 1 + 1 + 255 + 2 + 1024 bytes.
inline constexpr std::size_t kMaxMessage = 2048;
inline constexpr std::size_t kMaxName = 255;   // stack, client and daemon names, reasons
inline constexpr std::size_t kMaxText = 1024;  // messages for people
// Descriptors per reply. The kernel passes at most 253 per message (SCM_MAX_FD); 64 keeps a reply's worst case (64
// sockets in flight towards a peer that does not read) small.
inline constexpr int kMaxSocketsPerRequest = 64;

enum class MessageType : std::uint8_t {
  hello = 1,
  welcome = 2,
  sockets = 3,
  reply = 4,
  error = 5,
  open = 6,
  opened = 7,
  status = 8,
  session = 9,
  listen = 10,
  listening = 11,
  bind = 12,
};
inline constexpr std::uint8_t kLastMessageType = 12;
inline constexpr std::uint8_t kLastVersion1Type = 5;
std::string_view to_string(MessageType type);

// Why bytes were refused; each has its own errno (decode_problem maps it back), so Result<T> stays errno-shaped.
enum class DecodeProblem : std::uint8_t {
  bad_magic,      // not this protocol                                               EPROTO
  wrong_version,  // this protocol, a version this side does not speak               EPROTONOSUPPORT
  unknown_type,   // a type number the version does not define                       EBADMSG
  truncated,      // shorter than its header or its fields                           ENODATA
  trailing,       // bytes after the last field                                      EOVERFLOW
  oversized,      // longer than kMaxMessage                                         EMSGSIZE
  bad_field,      // a field outside its range (count 0, an empty stack name, ...)   EINVAL
};
inline constexpr std::size_t kDecodeProblems = 7;
std::string_view to_string(DecodeProblem problem);
int errno_of(DecodeProblem problem);
// `PROBLEM: message`, with the problem's errno.
Error decode_error(DecodeProblem problem, const std::string& message);
// The problem an Error from decode() stands for; bad_field for errors from elsewhere.
DecodeProblem decode_problem(const Error& error);

struct Hello {
  std::uint8_t lowest_version = kLowestVersion;
  std::uint8_t highest_version = kHighestVersion;
  std::string client;  // program name, for the daemon's logs (may be empty)
};

struct Welcome {
  std::uint8_t version = kHighestVersion;
  std::uint8_t max_sockets = kMaxSocketsPerRequest;
  std::string daemon;  // "dmm-stackd 0.1.0"
};

struct SocketsRequest {
  std::uint32_t id = 0;
  std::string stack;    // 1..kMaxName bytes
  std::int32_t domain = 0;
  std::int32_t type = 0;
  std::int32_t protocol = 0;
  std::uint8_t count = 1;  // 1..kMaxSocketsPerRequest
};

struct SocketsReply {
  std::uint32_t id = 0;
  std::int32_t error = 0;  // an errno; 0: granted, `fds` descriptors attached
  std::uint8_t fds = 0;    // 1..kMaxSocketsPerRequest when granted, 0 otherwise
  std::string reason;      // a token when refused: not_allowed, unknown_stack, refused_kind, not_served, socket_failed
  std::string message;     // for people
};

struct ErrorMessage {
  std::int32_t error = EPROTO;  // an errno for the client to report
  std::string reason;           // a DecodeProblem's name, unexpected, unexpected_fds, too_many_peers, no_hello, ...
  std::string message;
};

// Version 2: a session of a user-space stack instance (lwip-dpdk) that the daemon runs. The program's fd is one end
// of an AF_UNIX SOCK_STREAM socketpair for TCP, a connected UDP socket for UDP, whose other end the daemon pumps to and from
// the instance's connection (backends/service/README.md, "User-space stack instances").
struct OpenRequest {
  std::uint32_t id = 0;
  std::string stack;           // 1..kMaxName bytes
  L4Proto proto = L4Proto::tcp;
  Endpoint destination;        // port 1..65535
  bool nonblocking = false;    // the program's end gets O_NONBLOCK
};

struct OpenReply {
  std::uint32_t id = 0;
  std::int32_t error = 0;      // 0: opened, one fd attached
  std::uint64_t session = 0;   // the daemon's id of the session (nonzero when opened)
  std::string reason;          // a token when refused: not_allowed, unknown_stack, not_served, unreachable, ...
  std::string message;
};

enum class SessionState : std::uint8_t {
  connecting = 0,   // TCP handshake under way; the program's end is not writable yet
  established = 1,  // data flows
  failed = 2,       // the connection could not be made, or was reset: `error` says why (ECONNREFUSED, ...)
  closed = 3,       // ended normally, or unknown to the daemon (long gone)
};
inline constexpr std::uint8_t kLastSessionState = 3;
std::string_view to_string(SessionState state);

struct StatusRequest {
  std::uint32_t id = 0;
  std::uint64_t session = 0;
};

struct StatusReply {
  std::uint32_t id = 0;
  std::uint64_t session = 0;
  SessionState state = SessionState::closed;
  std::int32_t error = 0;      // of a failed session, else 0
  Endpoint local;              // the session's local address and port once the stack chose them (else unspecified)
  std::string message;         // why it failed, for people
};

struct ListenRequest {
  std::uint32_t id = 0;
  std::string stack;
  Endpoint local;            // the any address: the instance's own; port 0: one the instance picks
  bool nonblocking = false;  // the listener the program gets has O_NONBLOCK
  bool v6only = false;       // IPV6_V6ONLY: on the IPv6 any address, IPv6 only (else both families)
};

struct ListenReply {
  std::uint32_t id = 0;
  std::int32_t error = 0;     // 0: listening, one fd attached
  std::uint64_t listener = 0;  // nonzero when listening
  Endpoint local;             // as bound on the instance
  std::string reason;
  std::string message;
};

// An unconnected UDP socket on an instance (DNS clients and servers: any number of peers), answered by `opened`.
struct BindRequest {
  std::uint32_t id = 0;
  std::string stack;
  Endpoint local;            // the any address or the instance's; port 0: one the instance picks
  bool nonblocking = false;  // the program's socket has O_NONBLOCK
  bool v6only = false;       // IPV6_V6ONLY: on the IPv6 any address, IPv6 only (else both families)
  // Where the program's first datagram goes (a client's sendto), checked for a route as sendto(2) would
  // (ENETUNREACH: the ranked list moves on); absent for a server's bind. On the wire: port 0 = absent.
  std::optional<Endpoint> first_destination;
};

using Message = std::variant<Hello, Welcome, SocketsRequest, SocketsReply, ErrorMessage, OpenRequest, OpenReply,
                             StatusRequest, StatusReply, ListenRequest, ListenReply, BindRequest>;

// The first bytes of every connection accepted from a listener of a user-space instance (the preload shim reads
// them in accept() and answers getpeername/getsockname from them): magic "DMMA", u64 session, endpoint peer,
// endpoint local — kAcceptedHeaderBytes in all, big-endian like the messages.
struct AcceptedHeader {
  std::uint64_t session = 0;
  Endpoint peer;
  Endpoint local;
};
inline constexpr std::size_t kAcceptedHeaderBytes = 4 + 8 + 19 + 19;
std::string encode_accepted_header(const AcceptedHeader& header);
Result<AcceptedHeader> decode_accepted_header(std::span<const std::byte> bytes);
MessageType type_of(const Message& message);

// One datagram. Fields are clipped to their limits (a message never exceeds kMaxMessage); numeric fields are
// written as they are, so tests can build any request, including ones the daemon must refuse.
std::string encode(const Message& message);
// One datagram's bytes to a message, or an error naming its DecodeProblem and the field.
Result<Message> decode(std::span<const std::byte> bytes);
inline Result<Message> decode(std::string_view bytes) {
  return decode(std::as_bytes(std::span(bytes.data(), bytes.size())));
}

// The version both sides speak best, or wrong_version naming both ranges.
Result<std::uint8_t> negotiate_version(const Hello& hello);

}  // namespace dmm::service
