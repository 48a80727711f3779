// UserSession and UserStacks without DPDK: the user-space stack thread runs kernel instances here (any Stack
// works), so the threads, buffers and readiness of the session machinery are exercised for real (and under TSan
// in a thread-sanitizer build), with a kernel echo peer on loopback.
#include "user_session.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "dmm/kernel/kernel_stack_kind.hpp"

namespace dmm::preload {
namespace {

// A kernel echo peer on 127.0.0.1: echoes every connection until its end of stream, on its own thread.
class LoopbackEcho {
public:
  LoopbackEcho() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&sin), len), 0);
    EXPECT_EQ(::listen(listener_, 16), 0);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&sin), &len);
    port_ = ntohs(sin.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        const int c = ::accept(listener_, nullptr, nullptr);
        if (c < 0) return;
        char buffer[65536];
        ssize_t n;
        while ((n = ::read(c, buffer, sizeof buffer)) > 0)
          for (ssize_t off = 0; off < n;) {
            const ssize_t w = ::write(c, buffer + off, static_cast<size_t>(n - off));
            if (w <= 0) break;
            off += w;
          }
        ::close(c);
      }
    });
  }
  ~LoopbackEcho() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }
  std::uint16_t port() const { return port_; }

private:
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

std::unique_ptr<UserStacks> kernel_user_stacks() {
  std::map<std::string, std::string> failed;
  std::string why;
  auto stacks = UserStacks::start({StackConfig{"k", "kernel", {}}}, failed, why,
                                  [](StackRegistry& r, kernel::EpollExecutor& ex) {
                                    return kernel::register_kernel_stack_kind(r, ex);
                                  });
  EXPECT_TRUE(stacks) << why;
  EXPECT_TRUE(failed.empty());
  return stacks;
}

// A session to `port` on loopback, its application end handed over: returns the session and the program's fd.
std::pair<std::shared_ptr<UserSession>, int> open_session(UserStacks& stacks, std::uint16_t port, bool nonblocking) {
  auto mirror = ReadinessMirror::create(nonblocking);
  EXPECT_TRUE(mirror.ok());
  auto session = std::make_shared<UserSession>(stacks, L4Proto::tcp, std::move(*mirror),
                                               Endpoint{IpAddress::v4(0x7f000001), port});
  const Status started = session->start_connect(*stacks.stack("k"));
  EXPECT_TRUE(started.ok()) << (started ? "" : started.error().message);
  stacks.sessions().add(session);
  const int fd = session->mirror().release_app_end();
  return {session, fd};
}

TEST(UserSession, BlockingConnectThenTwoThreadsStreamEightMegabytesByteExact) {
  LoopbackEcho echo;
  auto stacks = kernel_user_stacks();
  auto [session, fd] = open_session(*stacks, echo.port(), false);
  ASSERT_EQ(session->finish_connect(fd), 0) << std::strerror(errno);
  constexpr std::size_t kBytes = 8 << 20;
  std::thread writer([&, s = session, fd = fd] {
    std::vector<unsigned char> block(100000);
    for (std::size_t sent = 0; sent < kBytes;) {
      const std::size_t n = std::min(block.size(), kBytes - sent);
      for (std::size_t i = 0; i < n; ++i) block[i] = static_cast<unsigned char>((sent + i) * 13);
      const iovec iov{block.data(), n};
      const ssize_t w = s->send(fd, &iov, 1, 0);
      ASSERT_GT(w, 0);
      sent += static_cast<std::size_t>(w);
    }
    ASSERT_EQ(s->shutdown(SHUT_WR), 0);
  });
  std::size_t received = 0, wrong = 0;
  std::vector<unsigned char> buffer(70000);
  for (;;) {
    const iovec iov{buffer.data(), buffer.size()};
    const ssize_t n = session->receive(fd, &iov, 1, 0);
    ASSERT_GE(n, 0) << std::strerror(errno);
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) wrong += buffer[i] != static_cast<unsigned char>((received + i) * 13);
    received += static_cast<std::size_t>(n);
  }
  writer.join();
  EXPECT_EQ(received, kBytes);
  EXPECT_EQ(wrong, 0u);
  // The program closes its fd: the session is retired by the stack thread.
  ::close(fd);
  for (int i = 0; i < 2000 && !stacks->sessions().all().empty(); ++i) ::usleep(1000);
  EXPECT_TRUE(stacks->sessions().all().empty());
}

TEST(UserSession, NonBlockingSemanticsEinprogressEagainAndPollout) {
  LoopbackEcho echo;
  auto stacks = kernel_user_stacks();
  auto [session, fd] = open_session(*stacks, echo.port(), true);
  errno = 0;
  EXPECT_EQ(session->finish_connect(fd), -1);
  EXPECT_EQ(errno, EINPROGRESS);
  pollfd p{fd, POLLOUT, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  EXPECT_EQ(session->socket_error(true), 0);
  EXPECT_TRUE(session->connected());
  char byte;
  const iovec none{&byte, 1};
  errno = 0;
  EXPECT_EQ(session->receive(fd, &none, 1, 0), -1);
  EXPECT_EQ(errno, EAGAIN);
  const char hello[] = "hello";
  const iovec out{const_cast<char*>(hello), 5};
  EXPECT_EQ(session->send(fd, &out, 1, 0), 5);
  pollfd in{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&in, 1, 10000), 1);
  char got[8] = {};
  const iovec back{got, sizeof got};
  EXPECT_EQ(session->receive(fd, &back, 1, 0), 5);
  EXPECT_STREQ(got, "hello");
  EXPECT_EQ(::poll(&in, 1, 0), 0);  // drained: not readable any more
  ::close(fd);
}

TEST(UserSession, ARefusedConnectionIsReportedOnceLikeAKernelSocket) {
  // A port nobody listens on: bind one and close it again.
  int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  ::bind(probe, reinterpret_cast<sockaddr*>(&sin), len);
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&sin), &len);
  ::close(probe);
  auto stacks = kernel_user_stacks();
  auto [session, fd] = open_session(*stacks, ntohs(sin.sin_port), false);
  errno = 0;
  EXPECT_EQ(session->finish_connect(fd), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  const char x = 'x';
  const iovec out{const_cast<char*>(&x), 1};
  errno = 0;
  EXPECT_EQ(session->send(fd, &out, 1, MSG_NOSIGNAL), -1);
  EXPECT_EQ(errno, EPIPE);
  ::close(fd);
}

}  // namespace
}  // namespace dmm::preload
