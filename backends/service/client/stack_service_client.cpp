#include "dmm/service/stack_service_client.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <cstring>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/kernel/sys_error.hpp"
#include "dmm/service/messages.hpp"
#include "dmm/service/seqpacket.hpp"
#include "dmm/service/socket_kind.hpp"

namespace dmm::service {
namespace {

using kernel::UniqueFd;

// When a call must be done by. CLOCK_MONOTONIC, read only to share one timeout between the polls of one call (a
// signal may cut a poll short); never the wall clock.
class Deadline {
public:
  explicit Deadline(std::chrono::milliseconds timeout) : end_ns_(now_ns() + timeout.count() * 1'000'000LL) {}
  int remaining_ms() const {
    const long long left = end_ns_ - now_ns();
    if (left <= 0) return 0;
    return static_cast<int>(std::min<long long>((left + 999'999) / 1'000'000, 1'000'000'000LL));
  }

private:
  static long long now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
  }
  long long end_ns_;
};

Error service_error(int code, const std::string& what) { return make_error(code, "dmm-stackd: " + what); }

Status set_send_timeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) return kernel::last_sys_error("SO_SNDTIMEO");
  return {};
}

// One message out: a blocking send bounded by SO_SNDTIMEO (a daemon whose queue is full is not answering).
Status send_bytes(int fd, const std::string& bytes, const std::string& socket_path) {
  Status sent = send_message(fd, bytes, {}, 0);
  if (sent) return sent;
  const int code = sent.error().code;
  if (code == EAGAIN || code == EWOULDBLOCK) return service_error(ETIMEDOUT, "timed out sending to " + socket_path);
  if (code == EPIPE || code == ECONNRESET)
    return service_error(code, "the service at " + socket_path + " closed the connection");
  return service_error(code, "cannot send to " + socket_path + ": " + std::strerror(code));
}

// One datagram, without waiting. A daemon that closes a connection while a message of ours is still unread in its
// queue resets it: the kernel reports ECONNRESET once, on the next receive, even when the daemon's last message (an
// error saying why) is waiting behind it. So after ECONNRESET, look once more.
Result<Received> receive_now(int fd, std::size_t max_fds) {
  auto got = receive_message(fd, kMaxMessage, max_fds, MSG_DONTWAIT);
  if (got || got.error().code != ECONNRESET) return got;
  auto behind = receive_message(fd, kMaxMessage, max_fds, MSG_DONTWAIT);
  if (behind && !behind->closed) return behind;
  return got;
}

// The next message in, waiting until `deadline`; its descriptors (if any) are in `fds`.
Result<Message> receive(int fd, const Deadline& deadline, std::vector<UniqueFd>& fds, const std::string& socket_path) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, deadline.remaining_ms());
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return service_error(errno, std::string("poll: ") + std::strerror(errno));
    if (ready == 0) return service_error(ETIMEDOUT, "no answer from " + socket_path + " in time");
    auto got = receive_now(fd, kMaxSocketsPerRequest);
    if (!got) {
      const int code = got.error().code;
      if (code == EAGAIN || code == EWOULDBLOCK) continue;  // woken for nothing
      return service_error(code, "cannot receive from " + socket_path + ": " + std::strerror(code));
    }
    fds = std::move(got->fds);
    if (got->closed) return service_error(EPIPE, "the service at " + socket_path + " closed the connection");
    if (got->truncated)
      return service_error(EPROTO, "a message from " + socket_path + " is longer than " + std::to_string(kMaxMessage) +
                                       " bytes");
    if (got->fds_truncated && fds.empty())
      return service_error(EMFILE, "descriptors sent by " + socket_path + " did not arrive (this process's fd limit?)");
    auto message = decode(got->bytes);
    if (!message) return service_error(EPROTO, "a message from " + socket_path + " is not the protocol: " +
                                                   message.error().message);
    if (got->fds_truncated) {
      // Some arrived, not all: the reply is judged by its count below, with this errno.
      if (auto* reply = std::get_if<SocketsReply>(&*message); reply && reply->error == 0) reply->error = EMFILE;
    }
    return message;
  }
}

Error refusal_from(const ErrorMessage& m) {
  return service_error(m.error, m.reason + ": " + m.message);
}

// After a send found the connection closed: the daemon's last word (an error message) may still be waiting to be
// read, and says why better than EPIPE does (too_many_peers is sent at accept, before any hello arrives).
Error closed_error(int fd, const Error& send_error) {
  auto got = receive_now(fd, 0);
  if (!got || got->closed || got->truncated) return send_error;
  auto message = decode(got->bytes);
  if (!message) return send_error;
  if (const auto* last = std::get_if<ErrorMessage>(&*message)) return refusal_from(*last);
  return send_error;
}

// Each descriptor is a socket of the asked domain and type (protection against a socket file that is not the
// service's: the shim must not place a session on whatever someone hands it).
Status check_sockets(const std::vector<UniqueFd>& fds, int domain, int type) {
  for (const UniqueFd& fd : fds) {
    int got_domain = -1, got_type = -1;
    socklen_t len = sizeof got_domain;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_DOMAIN, &got_domain, &len) != 0) return kernel::last_sys_error("SO_DOMAIN");
    len = sizeof got_type;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &got_type, &len) != 0) return kernel::last_sys_error("SO_TYPE");
    if (got_domain != domain || got_type != (type & ~socket_type_flags()))
      return service_error(EPROTO, "a descriptor in the reply is " +
                                       describe_socket_kind(got_domain, got_type, -1) + ", not what was asked");
  }
  return {};
}

// The answer to a request for one descriptor (open, bind, listen): a `Reply` that grants it with exactly one
// descriptor of `domain`/`type` attached, or the refusal's errno and words.
template <typename Reply>
Result<std::pair<Reply, UniqueFd>> one_descriptor(Result<Message> answer, std::vector<UniqueFd>& fds,
                                                  std::string_view asked, int domain, int type) {
  if (!answer) return answer.error();
  auto* reply = std::get_if<Reply>(&*answer);
  if (!reply)
    return service_error(EPROTO, "answered " + std::string(asked) + " with " + std::string(to_string(type_of(*answer))));
  if (reply->error != 0) return service_error(reply->error, reply->reason + ": " + reply->message);
  if (fds.size() != 1)
    return service_error(EPROTO, "the answer to " + std::string(asked) + " carries one descriptor, not " +
                                     std::to_string(fds.size()));
  if (Status s = check_sockets(fds, domain, type); !s) return s.error();
  return std::pair<Reply, UniqueFd>{std::move(*reply), std::move(fds.front())};
}

int domain_of(const Endpoint& e) { return e.address.family == IpFamily::v4 ? AF_INET : AF_INET6; }

}  // namespace

Result<StackServiceClient> StackServiceClient::connect(const std::string& socket_path, std::chrono::milliseconds timeout) {
  sockaddr_un sun{};
  if (socket_path.empty() || socket_path.find('\0') != std::string::npos)
    return service_error(EINVAL, "'" + socket_path + "' is not a socket path");
  if (socket_path.size() >= sizeof sun.sun_path)
    return service_error(ENAMETOOLONG, "socket path '" + socket_path + "' is longer than " +
                                           std::to_string(sizeof sun.sun_path - 1) + " bytes");
  if (timeout <= std::chrono::milliseconds::zero()) return service_error(EINVAL, "the timeout must be positive");
  const Deadline deadline(timeout);

  auto made = kernel::raw_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (!made) return made.error();
  // Out of the way of programs which dup2 onto small numbers they did not open.
  UniqueFd fd = kernel::moved_at_or_above(std::move(*made), kernel::high_fd_floor());
  // Bounds the blocking connect, which waits while the daemon's backlog is full (the hello's send, which waits while
  // its receive queue is, gets what is left).
  if (Status s = set_send_timeout(fd.get(), timeout); !s) return s.error();
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, socket_path.data(), socket_path.size());
  for (;;) {
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0) break;
    const int code = errno;
    if (code == EINTR && deadline.remaining_ms() > 0) continue;  // a Unix connect starts over cleanly
    if (code == EISCONN) break;
    if (code == EAGAIN || code == EINPROGRESS || code == EINTR)
      return service_error(ETIMEDOUT, "timed out connecting to " + socket_path + " (its backlog is full)");
    if (code == ENOENT || code == ECONNREFUSED)
      return service_error(code, "no service at " + socket_path + " (is dmm-stackd running?): " + std::strerror(code));
    if (code == EPROTOTYPE)
      return service_error(code, socket_path + " is not dmm-stackd's socket (not a SOCK_SEQPACKET listener)");
    return service_error(code, "cannot connect to " + socket_path + ": " + std::strerror(code));
  }

  Hello hello;
  hello.client = program_invocation_short_name ? program_invocation_short_name : "";
  // What is left of the timeout bounds the hello's send (0 would mean "no bound" to SO_SNDTIMEO).
  const int left_ms = deadline.remaining_ms();
  if (left_ms == 0) return service_error(ETIMEDOUT, "timed out connecting to " + socket_path);
  if (Status s = set_send_timeout(fd.get(), std::chrono::milliseconds(left_ms)); !s) return s.error();
  if (Status s = send_bytes(fd.get(), encode(hello), socket_path); !s) return closed_error(fd.get(), s.error());
  std::vector<UniqueFd> fds;  // a welcome has none; any that came are closed with this
  auto answer = receive(fd.get(), deadline, fds, socket_path);
  if (!answer) return answer.error();
  if (const auto* refused = std::get_if<ErrorMessage>(&*answer)) return refusal_from(*refused);
  const auto* welcome = std::get_if<Welcome>(&*answer);
  if (!welcome)
    return service_error(EPROTO, "answered hello with " + std::string(to_string(type_of(*answer))) + ", not welcome");
  if (welcome->version < kLowestVersion || welcome->version > kHighestVersion)
    return service_error(EPROTONOSUPPORT, "chose protocol version " + std::to_string(welcome->version) +
                                              ", which this client does not speak");
  // Each request's send is bounded by the whole timeout again.
  if (Status s = set_send_timeout(fd.get(), timeout); !s) return s.error();
  return StackServiceClient(std::move(fd), socket_path, timeout, welcome->version);
}

std::uint32_t StackServiceClient::take_id() {
  const std::uint32_t id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;  // 0 marks messages that answer no request
  return id;
}

namespace {
std::uint32_t id_of(const Message& m) {
  return std::visit([](const auto& x) -> std::uint32_t {
    if constexpr (requires { x.id; }) return x.id;
    else return 0;
  }, m);
}
}  // namespace

Result<Message> StackServiceClient::exchange(const Message& request, std::uint32_t id, std::vector<UniqueFd>& fds) {
  if (!fd_) return service_error(EPIPE, "not connected");
  const Deadline deadline(timeout_);
  const std::string& path = socket_path_;
  if (Status s = send_bytes(fd_.get(), encode(request), path); !s) return closed_error(fd_.get(), s.error());
  for (;;) {
    fds.clear();
    auto answer = receive(fd_.get(), deadline, fds, path);
    if (!answer) return answer.error();
    if (const auto* refused = std::get_if<ErrorMessage>(&*answer)) return refusal_from(*refused);
    // The answer to an earlier request that timed out: its descriptors are closed with `fds`.
    if (id_of(*answer) != id) continue;
    return answer;
  }
}

Status StackServiceClient::check_user_space_request(std::string_view stack) const {
  if (stack.empty() || stack.size() > kMaxName || stack.find('\0') != std::string_view::npos)
    return service_error(EINVAL, std::string("'").append(stack).append("' is not a stack name"));
  if (version_ < 2)
    return service_error(EOPNOTSUPP, "the service at " + socket_path_ +
                                         " speaks protocol version 1: it runs no user-space stack instances");
  return {};
}

Result<StackServiceClient::Opened> StackServiceClient::open_session(std::string_view stack, L4Proto proto,
                                                                    const Endpoint& destination, bool nonblocking) {
  if (Status ok = check_user_space_request(stack); !ok) return ok.error();
  if (destination.port == 0) return service_error(EINVAL, "destination port 0");
  OpenRequest request;
  request.id = take_id();
  request.stack = std::string(stack);
  request.proto = proto;
  request.destination = destination;
  request.nonblocking = nonblocking;
  std::vector<UniqueFd> fds;
  auto opened = one_descriptor<OpenReply>(exchange(request, request.id, fds), fds, "open",
                                          proto == L4Proto::tcp ? AF_UNIX : domain_of(destination),
                                          proto == L4Proto::tcp ? SOCK_STREAM : SOCK_DGRAM);
  if (!opened) return opened.error();
  return Opened{std::move(opened->second), opened->first.session};
}

Result<StackServiceClient::Opened> StackServiceClient::bind_datagram(std::string_view stack, const Endpoint& local,
                                                                     bool nonblocking, bool v6only,
                                                                     const std::optional<Endpoint>& first_destination) {
  if (Status ok = check_user_space_request(stack); !ok) return ok.error();
  BindRequest request;
  request.id = take_id();
  request.stack = std::string(stack);
  request.local = local;
  request.nonblocking = nonblocking;
  request.v6only = v6only;
  request.first_destination = first_destination;
  std::vector<UniqueFd> fds;
  auto opened = one_descriptor<OpenReply>(exchange(request, request.id, fds), fds, "bind", domain_of(local), SOCK_DGRAM);
  if (!opened) return opened.error();
  return Opened{std::move(opened->second), opened->first.session};
}

Result<StackServiceClient::Listening> StackServiceClient::listen(std::string_view stack, const Endpoint& local,
                                                                 bool nonblocking, bool v6only) {
  if (Status ok = check_user_space_request(stack); !ok) return ok.error();
  ListenRequest request;
  request.id = take_id();
  request.stack = std::string(stack);
  request.local = local;
  request.nonblocking = nonblocking;
  request.v6only = v6only;
  std::vector<UniqueFd> fds;
  auto listening = one_descriptor<ListenReply>(exchange(request, request.id, fds), fds, "listen", AF_UNIX, SOCK_STREAM);
  if (!listening) return listening.error();
  return Listening{std::move(listening->second), listening->first.listener, listening->first.local};
}

Result<StatusReply> StackServiceClient::status(std::uint64_t session) {
  if (version_ < 2) return service_error(EOPNOTSUPP, "the service speaks protocol version 1");
  StatusRequest request;
  request.id = take_id();
  request.session = session;
  std::vector<UniqueFd> fds;
  auto answer = exchange(request, request.id, fds);
  if (!answer) return answer.error();
  auto* reply = std::get_if<StatusReply>(&*answer);
  if (!reply) return service_error(EPROTO, "answered status with " + std::string(to_string(type_of(*answer))));
  return std::move(*reply);
}

Result<std::vector<UniqueFd>> StackServiceClient::sockets(std::string_view stack, int domain, int type, int protocol,
                                                           int count) {
  if (count < 1 || count > kMaxSocketsPerRequest)
    return service_error(EINVAL, "count " + std::to_string(count) + " is outside 1.." +
                                     std::to_string(kMaxSocketsPerRequest));
  if (stack.empty() || stack.size() > kMaxName || stack.find('\0') != std::string_view::npos)
    return service_error(EINVAL, std::string("'").append(stack).append("' is not a stack name"));
  // Refused here too, before a round trip: the daemon would answer EINVAL the same way.
  if (Status kind = check_socket_kind(domain, type, protocol); !kind) return service_error(EINVAL, kind.error().message);
  if (!fd_) return service_error(EPIPE, "not connected");
  const Deadline deadline(timeout_);
  const std::string& path = socket_path_;

  SocketsRequest request;
  request.id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;  // 0 marks messages that answer no request
  request.stack = std::string(stack);
  request.domain = domain;
  request.type = type;
  request.protocol = protocol;
  request.count = static_cast<std::uint8_t>(count);
  if (Status s = send_bytes(fd_.get(), encode(request), path); !s) return closed_error(fd_.get(), s.error());

  for (;;) {
    std::vector<UniqueFd> fds;
    auto answer = receive(fd_.get(), deadline, fds, path);
    if (!answer) return answer.error();
    if (const auto* refused = std::get_if<ErrorMessage>(&*answer)) return refusal_from(*refused);
    const auto* reply = std::get_if<SocketsReply>(&*answer);
    if (!reply)
      return service_error(EPROTO, "answered a request with " + std::string(to_string(type_of(*answer))));
    // The reply to an earlier request that timed out: its descriptors are closed with `fds`.
    if (reply->id != request.id) continue;
    if (reply->error == EMFILE && reply->fds != 0)
      return service_error(EMFILE, std::to_string(reply->fds) + " descriptors were sent, " + std::to_string(fds.size()) +
                                       " arrived (this process's fd limit?)");
    if (reply->error != 0) return service_error(reply->error, reply->reason + ": " + reply->message);
    if (fds.size() != reply->fds || fds.size() != static_cast<std::size_t>(count))
      return service_error(EPROTO, "asked for " + std::to_string(count) + " sockets, the reply announces " +
                                       std::to_string(reply->fds) + " and carries " + std::to_string(fds.size()));
    if (Status s = check_sockets(fds, domain, type); !s) return s.error();
    return fds;
  }
}

}  // namespace dmm::service
