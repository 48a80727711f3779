#pragma once
// Where dmm-nrd listens or is reached: a Unix-domain socket path (this host; the peer's uid/gid is checked) or a
// TCP endpoint (other hosts and namespaces).
#include <string>
#include <string_view>

#include "dmm/address.hpp"
#include "dmm/result.hpp"

namespace dmm::nrd {

struct NrdAddress {
  enum class Kind : std::uint8_t { unix_socket, tcp };
  Kind kind = Kind::unix_socket;
  std::string path;  // unix_socket: absolute path, at most kMaxUnixPath bytes
  Endpoint tcp;      // tcp

  static NrdAddress unix_socket(std::string path) { return {Kind::unix_socket, std::move(path), {}}; }
  static NrdAddress tcp_endpoint(const Endpoint& e) { return {Kind::tcp, {}, e}; }
  // `unix:/run/dmm/nrd.sock`, a bare absolute path, `tcp:10.0.0.1:7601` or `tcp:[fd00::1]:7601`.
  static Result<NrdAddress> parse(std::string_view text);
  std::string to_string() const;  // in the form parse() reads
};

// sun_path's capacity without its terminating NUL.
inline constexpr std::size_t kMaxUnixPath = 107;

}  // namespace dmm::nrd
