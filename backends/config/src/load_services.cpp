// `nrd:` (where dmm-nrd is reached) and `log:` (how much to say, and where session decisions go).
#include <sys/un.h>

#include "host_sections.hpp"

namespace dmm::host::detail {

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
    nrd.socket = resolve_path(*socket, ctx);
    // The kernel's limit for a Unix-domain socket path (sun_path, with its terminating NUL); a longer path would
    // only fail when the shim tries to connect, far from the config.
    constexpr std::size_t kMaxSocketPath = sizeof(sockaddr_un{}.sun_path) - 1;
    if (nrd.socket.size() > kMaxSocketPath)
      socket->fail("socket path '" + nrd.socket + "' is longer than " + std::to_string(kMaxSocketPath) +
                   " bytes, the limit of a Unix-domain socket address");
  } else {
    auto endpoint = Endpoint::parse(scenario::read_text(*tcp));
    if (!endpoint) tcp->fail(endpoint.error().message);
    if (endpoint->port == 0) tcp->fail("the port of dmm-nrd cannot be 0");
    nrd.tcp = *endpoint;
  }
  ctx.config.nrd = std::move(nrd);
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
