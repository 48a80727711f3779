// What dmm-stackd's peers say: hello, then sockets requests. Each request is checked in order — the socket kind
// (no raw sockets for anyone), the stack (known, a kernel instance in a namespace), the peer's admission for that
// stack — then served by making the sockets as the peer and passing them in the reply.
#include <linux/sockios.h>
#include <spdlog/fmt/fmt.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <span>

#include "daemon_peer.hpp"
#include "port_privilege.hpp"
#include "dmm/service/admission.hpp"
#include "dmm/service/seqpacket.hpp"
#include "dmm/service/socket_kind.hpp"
#include "dmm/service/sockets_as_peer.hpp"
#include "user_stack_host.hpp"

namespace dmm::service {
namespace {

using kernel::UniqueFd;

std::string version_text() { return "dmm-stackd " DMM_VERSION; }

// Bytes of replies the peer has not read yet.
std::size_t unread_bytes(int fd) {
  int queued = 0;
  if (::ioctl(fd, SIOCOUTQ, &queued) != 0 || queued < 0) return 0;
  return static_cast<std::size_t>(queued);
}

// The reason token of an Error made here ("not_allowed: ..."), and its text after the token.
std::pair<std::string, std::string> split_reason(const std::string& message, const std::string& fallback) {
  const auto colon = message.find(": ");
  const std::string token = colon == std::string::npos ? std::string() : message.substr(0, colon);
  const bool is_token = !token.empty() && token.size() <= 32 &&
                        token.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos;
  if (!is_token) return {fallback, message};
  return {token, message.substr(colon + 2)};
}

// A peer's text (its program name, a stack name it asked for) as it may appear in a log line: printable ASCII
// without quotes or backslashes, so that no peer can end a line or forge `key=value` pairs in the daemon's log. A
// value (`stack=...`) has no spaces either; a quoted message (`detail="..."`) keeps them.
std::string printable(std::string_view text, bool spaces = false, std::size_t max = 64) {
  std::string out(text.substr(0, max));
  for (char& c : out) {
    const bool allowed = (c > 0x20 && c < 0x7f && c != '"' && c != '\\' && (spaces || c != '=')) || (spaces && c == ' ');
    if (!allowed) c = '?';
  }
  return out;
}

}  // namespace

void StackServiceDaemon::on_readable(PeerId id) {
  for (std::size_t i = 0; i < options_.messages_per_wakeup; ++i) {
    const auto it = peers_.find(id);
    if (it == peers_.end()) return;
    Peer& peer = *it->second;
    // No room for descriptors: any a peer sends are dropped by the kernel (and flagged), never installed here.
    auto got = receive_message(peer.fd.get(), kMaxMessage, 0, MSG_DONTWAIT);
    if (!got) {
      const int code = got.error().code;
      if (code != EAGAIN && code != EWOULDBLOCK) drop(id, "", got.error().message);
      return;  // level-triggered: what is left is reported again
    }
    if (got->closed) {
      drop(id, "", "closed by the peer");
      return;
    }
    if (got->fds_truncated) {
      reject(peer, "unexpected_fds", EINVAL, "dmm-stackd takes no descriptors from its peers");
      return;
    }
    if (got->truncated) {
      reject(peer, std::string(to_string(DecodeProblem::oversized)), errno_of(DecodeProblem::oversized),
             "a message longer than " + std::to_string(kMaxMessage) + " bytes");
      return;
    }
    auto message = decode(got->bytes);
    if (!message) {
      // The error message is `PROBLEM: what`; the problem travels as the reason.
      auto [reason, text] = split_reason(message.error().message, "bad_field");
      reject(peer, reason, message.error().code, text);
      return;
    }
    if (!on_message(peer, *message)) return;
  }
}

bool StackServiceDaemon::on_message(Peer& peer, Message& message) {
  const MessageType type = type_of(message);
  if (!peer.welcomed) {
    if (type == MessageType::hello) return on_hello(peer, std::get<Hello>(message));
    reject(peer, "unexpected", EPROTO, "the first message must be hello, not " + std::string(to_string(type)));
    return false;
  }
  if (type == MessageType::sockets) return on_sockets(peer, std::get<SocketsRequest>(message));
  if ((type == MessageType::open || type == MessageType::status || type == MessageType::listen ||
       type == MessageType::bind) &&
      peer.version < 2) {
    reject(peer, "unexpected", EPROTO,
           std::string(to_string(type)) + " is a version-2 request; this connection chose version 1");
    return false;
  }
  if (type == MessageType::open) return on_open(peer, std::get<OpenRequest>(message));
  if (type == MessageType::status) return on_status(peer, std::get<StatusRequest>(message));
  if (type == MessageType::listen) return on_listen(peer, std::get<ListenRequest>(message));
  if (type == MessageType::bind) return on_bind(peer, std::get<BindRequest>(message));
  reject(peer, "unexpected", EPROTO, "a client does not send " + std::string(to_string(type)) + " (after hello)");
  return false;
}

bool StackServiceDaemon::on_hello(Peer& peer, const Hello& hello) {
  auto version = negotiate_version(hello);
  if (!version) {
    reject(peer, std::string(to_string(DecodeProblem::wrong_version)), EPROTONOSUPPORT, version.error().message);
    return false;
  }
  Welcome welcome;
  welcome.version = *version;
  welcome.max_sockets = kMaxSocketsPerRequest;
  welcome.daemon = version_text();
  if (Status sent = send_message(peer.fd.get(), encode(welcome), {}, MSG_DONTWAIT); !sent) {
    drop(peer.id, "", "cannot send welcome: " + sent.error().message);
    return false;
  }
  executor_.cancel(peer.hello_timer);
  peer.hello_timer = 0;
  peer.welcomed = true;
  peer.version = *version;
  if (!hello.client.empty()) peer.who += " client=" + printable(hello.client);
  log_->info("event=hello id={} peer=\"{}\" version={}", peer.id, peer.who, peer.version);
  return true;
}

bool StackServiceDaemon::refuse_request(Peer& peer, const SocketsRequest& request, const Error& why) {
  auto [reason, text] = split_reason(why.message, "socket_failed");
  ++counters_.requests_refused[reason];
  log_->warn("event=request_refused id={} peer=\"{}\" stack={} kind={} count={} reason={} errno={} detail=\"{}\"",
             peer.id, peer.who, printable(request.stack),
             describe_socket_kind(request.domain, request.type, request.protocol), request.count, reason, why.code,
             printable(text, true, kMaxText));
  SocketsReply reply;
  reply.id = request.id;
  reply.error = why.code > 0 && why.code <= 4095 ? why.code : EIO;
  reply.reason = reason;
  reply.message = text;
  if (Status sent = send_message(peer.fd.get(), encode(reply), {}, MSG_DONTWAIT); !sent) {
    const bool full = sent.error().code == EAGAIN || sent.error().code == EWOULDBLOCK;
    drop(peer.id, full ? "slow_peer" : "", "cannot send a reply: " + sent.error().message);
    return false;
  }
  return true;
}

bool StackServiceDaemon::on_sockets(Peer& peer, const SocketsRequest& request) {
  ++peer.requests;
  if (const std::size_t unread = unread_bytes(peer.fd.get()); unread > options_.max_unread_reply_bytes) {
    drop(peer.id, "slow_peer", std::to_string(unread) + " bytes of replies unread; it sends requests without reading");
    return false;
  }
  if (Status kind = check_socket_kind(request.domain, request.type, request.protocol); !kind)
    return refuse_request(peer, request, kind.error());
  const host::StackSpec* spec = config_.find_stack(request.stack);
  if (!spec) {
    std::string names;
    for (const host::StackSpec& s : config_.stacks) names += (names.empty() ? "" : ", ") + s.name;
    return refuse_request(peer, request, make_error(ENOENT, "unknown_stack: no stack named '" + request.stack + "' in " +
                                                                config_.file + " (stacks: " + names + ")"));
  }
  const auto instance = instances_.find(request.stack);
  if (instance == instances_.end()) {
    const std::string why =
        !spec->kernel ? "it is of kind '" + spec->kind + "'; dmm-stackd serves kernel instances only"
                      : "it has no `netns:`: its sockets belong to the caller's own namespace, which the caller "
                        "enters without help";
    return refuse_request(peer, request,
                          make_error(EOPNOTSUPP, "not_served: dmm-stackd does not serve stack '" + request.stack +
                                                     "': " + why));
  }
  if (Status admitted = admit(peer.identity, *spec, config_.file); !admitted)
    return refuse_request(peer, request, admitted.error());

  // The type's SOCK_NONBLOCK is a property of the open file, shared with the peer's descriptor, so it is set here;
  // close-on-exec is per descriptor and the peer's comes from its own recvmsg (MSG_CMSG_CLOEXEC).
  auto made = make_sockets_as(instance->second, peer.identity.uid, peer.identity.gid, request.domain, request.type,
                              request.protocol, request.count);
  if (!made)
    return refuse_request(peer, request, make_error(made.error().code, "socket_failed: " + made.error().message));
  std::vector<int> fds;
  fds.reserve(made->size());
  for (const UniqueFd& fd : *made) fds.push_back(fd.get());
  SocketsReply reply;
  reply.id = request.id;
  reply.fds = static_cast<std::uint8_t>(fds.size());
  if (Status sent = send_message(peer.fd.get(), encode(reply), std::span<const int>(fds), MSG_DONTWAIT); !sent) {
    const bool full = sent.error().code == EAGAIN || sent.error().code == EWOULDBLOCK;
    drop(peer.id, full ? "slow_peer" : "", "cannot send a reply: " + sent.error().message);
    return false;
  }
  ++counters_.requests_granted;
  counters_.sockets_made += fds.size();
  log_->debug("event=sockets_granted id={} peer=\"{}\" stack={} kind={} count={}", peer.id, peer.who, request.stack,
              describe_socket_kind(request.domain, request.type, request.protocol), fds.size());
  return true;
}  // our copies of the descriptors close with `made`: the peer holds the sockets now

bool StackServiceDaemon::answer(Peer& peer, const Message& message, std::span<const int> fds) {
  if (Status sent = send_message(peer.fd.get(), encode(message), fds, MSG_DONTWAIT); !sent) {
    const bool full = sent.error().code == EAGAIN || sent.error().code == EWOULDBLOCK;
    drop(peer.id, full ? "slow_peer" : "", "cannot send an answer: " + sent.error().message);
    return false;
  }
  return true;
}

template <typename Reply>
bool StackServiceDaemon::refuse_with(Peer& peer, std::uint32_t id, const std::string& stack, const std::string& where,
                                     const Error& why, const char* event, const char* fallback) {
  auto [reason, text] = split_reason(why.message, fallback);
  ++counters_.requests_refused[reason];
  // A destination without a route is the ranked list's business (the shim moves on), not the daemon's news.
  const std::string line = fmt::format("event={} id={} peer=\"{}\" stack={} at={} reason={} errno={} detail=\"{}\"",
                                       event, peer.id, peer.who, printable(stack), where, reason, why.code,
                                       printable(text, true, kMaxText));
  if (reason == "unreachable") log_->debug("{}", line);
  else log_->warn("{}", line);
  Reply reply;
  reply.id = id;
  reply.error = why.code > 0 && why.code <= 4095 ? why.code : EIO;
  reply.reason = reason;
  reply.message = text;
  return answer(peer, reply);
}

bool StackServiceDaemon::dropped_for_unread_replies(Peer& peer) {
  const std::size_t unread = unread_bytes(peer.fd.get());
  if (unread <= options_.max_unread_reply_bytes) return false;
  drop(peer.id, "slow_peer", std::to_string(unread) + " bytes of replies unread; it sends requests without reading");
  return true;
}

std::optional<Error> StackServiceDaemon::user_request_refusal(const Peer& peer, const std::string& stack) const {
  const host::StackSpec* spec = config_.find_stack(stack);
  if (!spec) return make_error(ENOENT, "unknown_stack: no stack named '" + stack + "' in " + config_.file);
  if (!user_ || !user_->serves(stack))
    return make_error(EOPNOTSUPP, "not_served: stack '" + stack + "' is not a user-space instance that dmm-stackd "
                                  "runs (kind '" + spec->kind + "')");
  if (Status admitted = admit(peer.identity, *spec, config_.file); !admitted) return admitted.error();
  return std::nullopt;
}

bool StackServiceDaemon::refuse_open(Peer& peer, const OpenRequest& request, const Error& why) {
  return refuse_with<OpenReply>(peer, request.id, request.stack, request.destination.to_string(), why,
                                "open_refused", "open_failed");
}

bool StackServiceDaemon::on_open(Peer& peer, const OpenRequest& request) {
  ++peer.requests;
  if (dropped_for_unread_replies(peer)) return false;
  if (auto refusal = user_request_refusal(peer, request.stack)) return refuse_open(peer, request, *refusal);
  auto opened = user_->open(request, peer.identity.uid);
  if (!opened) {
    const int code = opened.error().code;
    const bool unreachable = code == ENETUNREACH || code == EHOSTUNREACH;
    return refuse_open(peer, request, make_error(code, std::string(unreachable ? "unreachable: " : "open_failed: ") +
                                                           opened.error().message));
  }
  if (!send_opened(peer, request.id, opened->session, opened->program_end)) return false;
  log_->debug("event=session_opened id={} peer=\"{}\" stack={} proto={} to={} session={}", peer.id, peer.who,
              request.stack, request.proto == L4Proto::tcp ? "tcp" : "udp", request.destination.to_string(),
              opened->session);
  return true;
}

bool StackServiceDaemon::send_opened(Peer& peer, std::uint32_t id, std::uint64_t session, int program_end) {
  OpenReply reply;
  reply.id = id;
  reply.session = session;
  const int fds[1] = {program_end};
  const bool sent = answer(peer, reply, fds);
  user_->sent(session);  // our copy of the program's end closes: the program holds it (or nobody does)
  if (sent) ++counters_.sessions_opened;
  return sent;
}

bool StackServiceDaemon::on_bind(Peer& peer, const BindRequest& request) {
  ++peer.requests;
  if (dropped_for_unread_replies(peer)) return false;
  auto refuse = [&](const Error& why) {
    return refuse_with<OpenReply>(peer, request.id, request.stack, request.local.to_string(), why, "bind_refused",
                                  "bind_failed");
  };
  if (auto refusal = user_request_refusal(peer, request.stack)) return refuse(*refusal);
  if (Status port = admit_port(peer.identity, request.local.port); !port) return refuse(port.error());
  auto opened = user_->bind(request, peer.identity.uid);
  if (!opened) {
    const int code = opened.error().code;
    const bool unreachable = code == ENETUNREACH || code == EHOSTUNREACH;
    return refuse(make_error(code, std::string(unreachable ? "unreachable: " : "bind_failed: ") + opened.error().message));
  }
  if (!send_opened(peer, request.id, opened->session, opened->program_end)) return false;
  log_->debug("event=datagram_socket id={} peer=\"{}\" stack={} on={} session={}", peer.id, peer.who, request.stack,
              request.local.to_string(), opened->session);
  return true;
}

bool StackServiceDaemon::refuse_listen(Peer& peer, const ListenRequest& request, const Error& why) {
  return refuse_with<ListenReply>(peer, request.id, request.stack, request.local.to_string(), why, "listen_refused",
                                  "listen_failed");
}

bool StackServiceDaemon::on_listen(Peer& peer, const ListenRequest& request) {
  ++peer.requests;
  if (dropped_for_unread_replies(peer)) return false;
  if (auto refusal = user_request_refusal(peer, request.stack)) return refuse_listen(peer, request, *refusal);
  if (Status port = admit_port(peer.identity, request.local.port); !port) return refuse_listen(peer, request, port.error());
  auto listening = user_->listen(request, peer.identity.uid);
  if (!listening)
    return refuse_listen(peer, request, make_error(listening.error().code, "listen_failed: " +
                                                                              listening.error().message));
  ListenReply reply;
  reply.id = request.id;
  reply.listener = listening->listener;
  reply.local = listening->local;
  const int fds[1] = {listening->program_end};
  const bool sent = answer(peer, reply, fds);
  user_->listen_sent(listening->listener);
  if (!sent) return false;
  log_->info("event=listening id={} peer=\"{}\" stack={} on={} listener={}", peer.id, peer.who, request.stack,
             request.local.to_string(), listening->listener);
  return true;
}

bool StackServiceDaemon::on_status(Peer& peer, const StatusRequest& request) {
  ++peer.requests;
  StatusReply reply = user_ ? user_->status(request.session, peer.identity.uid) : StatusReply{};
  reply.id = request.id;
  reply.session = request.session;
  return answer(peer, reply);
}

}  // namespace dmm::service
