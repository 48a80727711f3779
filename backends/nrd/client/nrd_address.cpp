#include "dmm/nrd/nrd_address.hpp"

namespace dmm::nrd {
namespace {

// `'TEXT' why`, appended rather than `"'" + s`: GCC 12 warns falsely (-Wrestrict) about the latter.
Error invalid(std::string_view text, std::string_view why) {
  std::string msg = "'";
  msg.append(text).append("' ").append(why);
  return make_error(EINVAL, std::move(msg));
}

}  // namespace

Result<NrdAddress> NrdAddress::parse(std::string_view text) {
  constexpr std::string_view kUnix = "unix:", kTcp = "tcp:";
  if (text.substr(0, kTcp.size()) == kTcp) {
    auto endpoint = Endpoint::parse(text.substr(kTcp.size()));
    if (!endpoint) return endpoint.error();
    if (endpoint->port == 0) return invalid(text, "names port 0");
    return tcp_endpoint(*endpoint);
  }
  std::string_view path = text.substr(0, kUnix.size()) == kUnix ? text.substr(kUnix.size()) : text;
  if (path.empty() || path.front() != '/')
    return invalid(text, "is not an nRD address (unix:/ABSOLUTE/PATH, /ABSOLUTE/PATH or tcp:ADDRESS:PORT)");
  if (path.size() > kMaxUnixPath)
    return make_error(EINVAL, "socket path '" + std::string(path) + "' is longer than " + std::to_string(kMaxUnixPath) +
                                  " bytes, the limit of a Unix-domain socket address");
  if (path.find('\0') != std::string_view::npos) return make_error(EINVAL, "a socket path cannot contain NUL");
  return unix_socket(std::string(path));
}

std::string NrdAddress::to_string() const {
  return kind == Kind::tcp ? "tcp:" + tcp.to_string() : "unix:" + path;
}

}  // namespace dmm::nrd
