// `nrd:` (where dmm-nrd is reached), `service:` (where dmm-stackd listens) and `log:` (how much to say, and where
// session decisions go).
#include <sys/un.h>

#include "host_sections.hpp"

namespace dmm::host::detail {
namespace {

// The kernel's limit for a Unix-domain socket path (sun_path, with its terminating NUL); a longer path would only
// fail when the shim or a daemon tries to use it, far from the config.
constexpr std::size_t kMaxSocketPath = sizeof(sockaddr_un{}.sun_path) - 1;

std::string read_socket_path(const Field& f, const LoadContext& ctx) {
  std::string path = resolve_path(f, ctx);
  if (path.size() > kMaxSocketPath)
    f.fail("socket path '" + path + "' is longer than " + std::to_string(kMaxSocketPath) +
           " bytes, the limit of a Unix-domain socket address");
  return path;
}

// Octal as written (`"0666"`, `660`): YAML would read 0666 as a decimal or an octal integer depending on the YAML
// version, so the text is taken as it is.
mode_t read_mode(const Field& f) {
  const std::string text = scenario::read_text(f);
  mode_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7' || mode > 0777) f.fail("'" + text + "' is not a file mode (octal, e.g. \"0666\" or \"0660\")");
    mode = static_cast<mode_t>(mode * 8 + static_cast<mode_t>(c - '0'));
  }
  if (text.empty() || mode > 0777) f.fail("'" + text + "' is not a file mode (octal, from 0 to 0777)");
  return mode;
}

}  // namespace

void load_nrd(const MapReader& top, LoadContext& ctx) {
  const auto section = top.get("nrd");
  if (!section) return;  // no nRD: the policy above stays as it is
  const MapReader m(*section, "the nrd section ({socket: PATH} or {tcp: ADDRESS:PORT})");
  m.allow({"socket", "tcp"});
  NrdSpec nrd;
  nrd.mark = mark_of(*section);
  const auto socket = m.get("socket");
  const auto tcp = m.get("tcp");
  if (socket && tcp) tcp->fail("give either `socket:` or `tcp:`, not both");
  if (!socket && !tcp) section->fail("missing required key 'socket' (or 'tcp': ADDRESS:PORT for a daemon elsewhere)");
  if (socket) {
    nrd.socket = read_socket_path(*socket, ctx);
  } else {
    auto endpoint = Endpoint::parse(scenario::read_text(*tcp));
    if (!endpoint) tcp->fail(endpoint.error().message);
    if (endpoint->port == 0) tcp->fail("the port of dmm-nrd cannot be 0");
    nrd.tcp = *endpoint;
  }
  ctx.config.nrd = std::move(nrd);
}

void load_service(const MapReader& top, LoadContext& ctx) {
  const auto section = top.get("service");
  if (!section) return;  // no stack service: processes that may not enter a namespace get no sockets there
  const MapReader m(*section, "the service section ({socket: PATH, mode: \"0666\"})");
  m.allow({"socket", "mode", "max_peers"});
  ServiceSpec service;
  service.mark = mark_of(*section);
  const Field socket = m.require("socket");
  service.socket = read_socket_path(socket, ctx);
  if (ctx.config.nrd && ctx.config.nrd->socket == service.socket)
    socket.fail("'" + service.socket + "' is also nrd.socket: dmm-stackd and dmm-nrd need a socket each");
  if (auto mode = m.get("mode")) service.mode = read_mode(*mode);
  if (auto peers = m.get("max_peers")) service.max_peers = static_cast<std::uint32_t>(scenario::read_uint(*peers, 1, 65536));
  ctx.config.service = std::move(service);
}

void load_log(const MapReader& top, LoadContext& ctx) {
  const auto section = top.get("log");
  if (!section) return;
  const MapReader m(*section, "the log section ({level: LEVEL, decisions: PATH})");
  m.allow({"level", "decisions"});
  LogSpec& log = ctx.config.log;
  log.mark = mark_of(*section);
  if (auto l = m.get("level")) {
    const auto level = parse_log_level(scenario::read_text(*l));
    if (!level) l->fail("unknown log level '" + (*l)->text + "' (trace, debug, info, warn, error)");
    log.level = *level;
  }
  if (auto d = m.get("decisions")) log.decisions = resolve_path(*d, ctx);
}

}  // namespace dmm::host::detail
