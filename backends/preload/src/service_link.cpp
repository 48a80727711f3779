#include "service_link.hpp"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd_table.hpp"
#include "shim_guard.hpp"

namespace dmm::preload {
namespace {

// Connecting and each request wait at most this long: dmm-stackd answers in microseconds, and a program's
// connect() must not hang long on a stuck daemon.
constexpr std::chrono::milliseconds kTimeout{2000};

// Errors of the connection itself, not answers of the service.
bool transport_error(int code) {
  return code == EPIPE || code == ECONNRESET || code == ENOTCONN || code == EBADF || code == ETIMEDOUT ||
         code == EPROTO;
}

}  // namespace

template <typename Request>
auto ServiceLink::call(Request&& request, Failure& failure)
    -> decltype(request(std::declval<service::StackServiceClient&>())) {
  const std::uintptr_t me = thread_token();
  if (holder_.load(std::memory_order_relaxed) == me) {
    failure = Failure::busy;
    return make_error(EWOULDBLOCK, "dmm-stackd is being asked by this thread already");
  }
  pthread_mutex_lock(&mutex_);
  holder_.store(me, std::memory_order_relaxed);
  struct Release {
    ServiceLink& link;
    ~Release() {
      link.holder_.store(0, std::memory_order_relaxed);
      pthread_mutex_unlock(&link.mutex_);
    }
  } release{*this};
  InsideShim guard;  // the client's own socket calls are the shim's, not the program's
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  const bool changed = credentials_changed_.exchange(false, std::memory_order_acq_rel);
  if (stale_ || (client_ && (changed || uid != client_uid_ || gid != client_gid_))) {
    // A fork parent's connection (its fd closed already), or one made with other credentials: the service judged
    // it as someone else. The destructor closes our fd (the stale one's was forgotten).
    connection_fd_.store(-1, std::memory_order_release);
    client_.reset();
    stale_ = false;
  }
  for (int attempt = 0;; ++attempt) {
    if (!client_) {
      auto connected = service::StackServiceClient::connect(path_, kTimeout);
      if (!connected) {
        failure = Failure::unreachable;  // names the socket and asks whether dmm-stackd runs
        return connected.error();
      }
      struct stat st {};
      if (::fstat(connected->fd(), &st) == 0) {
        connection_dev_.store(st.st_dev, std::memory_order_relaxed);
        connection_ino_.store(st.st_ino, std::memory_order_relaxed);
        connection_fd_.store(connected->fd(), std::memory_order_release);
      }
      client_.emplace(std::move(*connected));
      client_uid_ = uid;
      client_gid_ = gid;
    }
    auto answer = request(*client_);
    if (answer) {
      failure = Failure::none;
      return answer;
    }
    if (!transport_error(answer.error().code)) {
      failure = Failure::refused;
      return answer;
    }
    connection_fd_.store(-1, std::memory_order_release);
    client_.reset();  // the daemon restarted, or the connection broke: one fresh connection
    if (attempt > 0) {
      failure = Failure::unreachable;
      return answer;
    }
  }
}

Result<std::vector<kernel::UniqueFd>> ServiceLink::sockets(std::string_view stack, int domain, int type, int protocol,
                                                           int count, Failure& failure) {
  return call([&](service::StackServiceClient& c) { return c.sockets(stack, domain, type, protocol, count); },
              failure);
}

Result<service::StackServiceClient::Opened> ServiceLink::open_session(std::string_view stack, L4Proto proto,
                                                                      const Endpoint& destination, bool nonblocking,
                                                                      Failure& failure) {
  return call([&](service::StackServiceClient& c) { return c.open_session(stack, proto, destination, nonblocking); },
              failure);
}

Result<service::StackServiceClient::Listening> ServiceLink::listen(std::string_view stack, const Endpoint& local,
                                                                   bool nonblocking, bool v6only, Failure& failure) {
  return call([&](service::StackServiceClient& c) { return c.listen(stack, local, nonblocking, v6only); }, failure);
}

Result<service::StackServiceClient::Opened> ServiceLink::bind_datagram(std::string_view stack, const Endpoint& local,
                                                                       bool nonblocking, bool v6only,
                                                                       const std::optional<Endpoint>& first_destination,
                                                                       Failure& failure) {
  return call([&](service::StackServiceClient& c) {
    return c.bind_datagram(stack, local, nonblocking, v6only, first_destination);
  }, failure);
}

Result<service::StatusReply> ServiceLink::status(std::uint64_t session, Failure& failure) {
  return call([&](service::StackServiceClient& c) { return c.status(session); }, failure);
}

void ServiceLink::after_fork_in_child() noexcept {
  // The parent's connection speaks with the parent's credentials; ours must be our own. Closed by number, and only
  // if the number still is that connection (the atomics are published after it is made, withdrawn before it is
  // closed); the client object is dropped by the child's first call (stale_), never used.
  const int fd = connection_fd_.exchange(-1, std::memory_order_acq_rel);
  struct stat st {};
  if (fd >= 0 && ::fstat(fd, &st) == 0 && st.st_dev == connection_dev_.load(std::memory_order_relaxed) &&
      st.st_ino == connection_ino_.load(std::memory_order_relaxed))
    ::syscall(SYS_close, fd);
  if (client_) client_->forget_connection();
  stale_ = true;
  holder_.store(0, std::memory_order_relaxed);
  // A thread of the parent may have held the mutex at the fork; it does not exist here.
  pthread_mutex_init(&mutex_, nullptr);
}

}  // namespace dmm::preload
