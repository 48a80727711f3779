// libFuzzer target for dmm-stackd's message decoder (DESIGN.md §2.3: never a crash or a hang on bad input): the bytes
// any local process that may open the service's socket can send, one datagram per input. Properties checked beyond
// "no crash": every error names a DecodeProblem (its name starts the message, its errno round-trips); whatever
// decodes re-encodes into bytes that decode again to the same bytes (what the daemon echoes, such as a request id, or
// a client relays, stays readable); a decoded request's socket kind is judged without crashing, and the kinds the
// service serves are only TCP, MPTCP and UDP over IPv4/IPv6.
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "dmm/service/messages.hpp"
#include "dmm/service/socket_kind.hpp"
#include "dmm/service/udp_packet.hpp"

namespace {

using namespace dmm::service;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "%s: %s\n", what, detail.c_str());
  std::abort();
}

void check_error(const dmm::Error& e) {
  const DecodeProblem p = decode_problem(e);
  if (errno_of(p) != e.code) fail("error without a named problem", e.message);
  if (e.message.rfind(std::string(to_string(p)) + ": ", 0) != 0) fail("error message does not start with its problem", e.message);
}

void check_kind(const SocketsRequest& r) {
  const dmm::Status s = check_socket_kind(r.domain, r.type, r.protocol);
  if (!s.ok()) {
    if (s.error().code != EINVAL || s.error().message.rfind("refused_kind: ", 0) != 0)
      fail("a refused kind without its name", s.error().message);
    return;
  }
  const int base = r.type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  const bool inet = r.domain == AF_INET || r.domain == AF_INET6;
  const bool tcp = base == SOCK_STREAM && (r.protocol == 0 || r.protocol == IPPROTO_TCP || r.protocol == IPPROTO_MPTCP);
  const bool udp = base == SOCK_DGRAM && (r.protocol == 0 || r.protocol == IPPROTO_UDP);
  if (!inet || !(tcp || udp)) fail("a kind the service must refuse was accepted", describe_socket_kind(r.domain, r.type, r.protocol));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The header of an accepted connection (what the shim reads first from each): decoded or refused, and what it
  // decodes re-encodes to the same bytes.
  if (size == kAcceptedHeaderBytes) {
    auto header = decode_accepted_header(std::as_bytes(std::span(data, size)));
    if (header.ok() && encode_accepted_header(*header) != bytes)
      fail("an accepted header re-encodes differently", std::string(bytes.substr(0, 4)));
  }
  // As a packet the datagram pump read from its tun: parsed (its payload inside the input) or refused, and a parsed
  // datagram builds into a packet that parses to the same datagram.
  const auto span = std::as_bytes(std::span(data, size));
  if (auto packet = parse_udp_packet(span); packet.ok()) {
    if (packet->payload.data() < span.data() || packet->payload.data() + packet->payload.size() > span.data() + size)
      fail("a parsed payload outside the packet", std::to_string(size));
    std::vector<std::byte> built;
    if (!build_udp_packet(packet->source, packet->destination, packet->payload, built).ok())
      fail("a parsed datagram does not build", packet->source.to_string());
    auto again = parse_udp_packet(built);
    if (!again.ok() || again->source != packet->source || again->destination != packet->destination ||
        !std::equal(again->payload.begin(), again->payload.end(), packet->payload.begin(), packet->payload.end()))
      fail("a built packet parses to another datagram", packet->source.to_string());
  }
  auto m = decode(bytes);
  if (!m.ok()) {
    check_error(m.error());
    return 0;
  }
  if (const auto* r = std::get_if<SocketsRequest>(&*m)) check_kind(*r);
  const std::string again = encode(*m);
  if (again.size() > kMaxMessage) fail("re-encoded message above the limit", std::to_string(again.size()));
  auto decoded = decode(again);
  if (!decoded.ok()) fail("re-encoded message does not decode", decoded.error().message);
  if (encode(*decoded) != again) fail("re-encoded message changes on a second round", std::string(to_string(type_of(*m))));
  return 0;
}
