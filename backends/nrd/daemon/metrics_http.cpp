#include "dmm/nrd/metrics_http.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include "dmm/nrd/prometheus_text.hpp"
#include "dmm/nrd/socket_ops.hpp"

namespace dmm::nrd {

using kernel::UniqueFd;

Result<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::create(const Endpoint& on,
                                                                     kernel::EpollExecutor& executor,
                                                                     std::function<std::string()> render) {
  auto fd = listen_on(NrdAddress::tcp_endpoint(on), 0, 16);
  if (!fd) return fd.error();
  auto bound = bound_endpoint(fd->get());
  if (!bound) return bound.error();
  std::unique_ptr<MetricsHttpServer> server(
      new MetricsHttpServer(std::move(*fd), *bound, executor, std::move(render)));
  MetricsHttpServer* self = server.get();
  if (Status s = executor.watch(server->listener_.get(), EPOLLIN, [self](std::uint32_t) { self->on_accept(); }); !s)
    return s.error();
  return server;
}

MetricsHttpServer::MetricsHttpServer(UniqueFd fd, Endpoint endpoint, kernel::EpollExecutor& executor,
                                     std::function<std::string()> render)
    : listener_(std::move(fd)), endpoint_(endpoint), executor_(executor), render_(std::move(render)) {}

MetricsHttpServer::~MetricsHttpServer() {
  while (!clients_.empty()) drop(clients_.begin()->first);
  if (listener_) executor_.unwatch(listener_.get());
}

void MetricsHttpServer::on_accept() {
  for (;;) {
    UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;  // EAGAIN, or an error the next readiness will show again
    if (clients_.size() >= kMaxConnections) {
      ++refused_;
      continue;  // closed at once: a scraper retries, a flood does not pile up
    }
    const int n = fd.get();
    if (!executor_.watch(n, EPOLLIN, [this, n](std::uint32_t ev) { on_client(n, ev); })) continue;
    Client& c = clients_[n];
    c.fd = std::move(fd);
    c.deadline = executor_.schedule(kRequestTimeout, [this, n] {
      auto late = clients_.find(n);
      if (late == clients_.end()) return;
      late->second.deadline = 0;
      ++refused_;
      drop(n);
    });
  }
}

void MetricsHttpServer::respond(Client& c, const std::string& status, const std::string& content_type,
                                const std::string& body) {
  c.out = "HTTP/1.1 " + status + "\r\nContent-Type: " + content_type +
          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  (void)executor_.modify(c.fd.get(), EPOLLOUT);
}

void MetricsHttpServer::on_client(int n, std::uint32_t events) {
  auto it = clients_.find(n);
  if (it == clients_.end()) return;
  Client& c = it->second;
  if (!c.out.empty()) {
    const ssize_t w = ::send(n, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) c.written += static_cast<std::size_t>(w);
    if ((w < 0 && errno != EAGAIN && errno != EINTR) || c.written == c.out.size()) drop(n);
    return;
  }
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) == 0) return;
  char buf[2048];
  const ssize_t r = ::recv(n, buf, sizeof buf, MSG_DONTWAIT);
  if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
    drop(n);
    return;
  }
  if (r < 0) return;
  c.in.append(buf, static_cast<std::size_t>(r));
  const auto head_end = c.in.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    if (c.in.size() > kMaxHeadBytes) {
      ++refused_;
      respond(c, "431 Request Header Fields Too Large", "text/plain", "request head too large\n");
    }
    return;
  }
  ++requests_;
  const std::string line = c.in.substr(0, c.in.find("\r\n"));
  const auto sp1 = line.find(' ');
  const auto sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  const std::string method = line.substr(0, sp1);
  const std::string target = sp1 == std::string::npos ? "" : line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (method != "GET") {
    respond(c, "405 Method Not Allowed", "text/plain", "only GET /metrics is served\n");
  } else if (target != "/metrics") {
    respond(c, "404 Not Found", "text/plain", "only /metrics is served\n");
  } else {
    respond(c, "200 OK", std::string(kPrometheusContentType), render_());
  }
}

void MetricsHttpServer::drop(int n) {
  auto it = clients_.find(n);
  if (it == clients_.end()) return;
  executor_.cancel(it->second.deadline);
  executor_.unwatch(n);
  clients_.erase(it);  // closes the fd
}

}  // namespace dmm::nrd
