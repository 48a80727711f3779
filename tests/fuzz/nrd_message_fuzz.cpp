// libFuzzer target for dmm-nrd's message decoder (DESIGN.md §2.3: never a crash or a hang on bad input): the bytes
// a peer can send. Two modes, chosen by the first byte, so the fuzzer reaches both the framing and the bodies:
//   bit 7 clear: the rest is a byte stream, fed to a FrameReader in chunks (the first byte's low bits say how
//                big), every complete frame decoded;
//   bit 7 set:   the rest is one body, decoded as the message type in the low 7 bits.
// Properties checked beyond "no crash": every error names a DecodeProblem whose errno round-trips, and whatever
// decodes re-encodes into a frame that decodes again to the same type (what the daemon relays stays readable).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "dmm/nrd/messages.hpp"

namespace {

using namespace dmm::nrd;

void check_error(const dmm::Error& e) {
  const DecodeProblem p = decode_problem(e);
  if (decode_error(p, "").code != e.code || e.message.empty()) {
    std::fprintf(stderr, "error without a named problem (code %d): %s\n", e.code, e.message.c_str());
    std::abort();
  }
}

void check_round_trip(const Message& m) {
  const std::string frame = encode(m);
  FrameReader reader(kHardMaxBody);
  reader.feed(frame);
  auto again = reader.next();
  if (!again.ok() || !*again) {
    std::fprintf(stderr, "re-encoded frame does not frame\n");
    std::abort();
  }
  auto decoded = decode(**again);
  if (!decoded.ok() || type_of(*decoded) != type_of(m)) {
    std::fprintf(stderr, "re-encoded %s does not decode: %s\n", std::string(to_string(type_of(m))).c_str(),
                 decoded.ok() ? "other type" : decoded.error().message.c_str());
    std::abort();
  }
}

void decode_and_check(MessageType type, std::string_view body) {
  auto m = decode(type, body);
  if (!m.ok()) {
    check_error(m.error());
    return;
  }
  check_round_trip(*m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 0x80) {
    decode_and_check(static_cast<MessageType>(data[0] & 0x7f), rest);
    return 0;
  }
  const std::size_t chunk = 1 + (data[0] & 0x3f) * 7;
  FrameReader reader(64 * 1024);
  for (std::size_t off = 0; off < rest.size(); off += chunk) {
    reader.feed(rest.substr(off, chunk));
    for (;;) {
      auto frame = reader.next();
      if (!frame.ok()) {
        check_error(frame.error());
        return 0;
      }
      if (!*frame) break;
      decode_and_check((*frame)->type, (*frame)->body);
    }
  }
  if (auto end = reader.finish(); !end.ok()) check_error(end.error());
  return 0;
}
