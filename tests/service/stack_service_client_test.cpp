// StackServiceClient against fake daemons that misbehave on purpose: no daemon, a silent one, one of the wrong
// socket type, a stale reply before the right one, replies with the wrong descriptors, a daemon that vanishes. The
// client must answer each with its errno within its timeout, keep its fd high, and leave no descriptor behind.
#include "dmm/service/stack_service_client.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "service_harness.hpp"

namespace dmm::test {
namespace {

using namespace std::chrono_literals;
using kernel::UniqueFd;
using service::StackServiceClient;

sockaddr_un address_of(const std::string& path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
  return sun;
}

UniqueFd listen_at(const std::string& path, int type) {
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  const sockaddr_un sun = address_of(path);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) != 0 || ::listen(fd.get(), 4) != 0)
    std::abort();
  return fd;
}

// A fake daemon: accepts one connection and runs `script` on it, on a thread of its own.
class FakeService {
public:
  FakeService(const std::string& path, std::function<void(int)> script) : listener_(listen_at(path, SOCK_SEQPACKET)) {
    thread_ = std::thread([this, script = std::move(script)] {
      UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn) script(conn.get());
    });
  }
  ~FakeService() {
    ::shutdown(listener_.get(), SHUT_RDWR);  // wakes accept if nobody came
    thread_.join();
  }

private:
  UniqueFd listener_;
  std::thread thread_;
};

// The fake's side of the conversation.
service::Message next(int conn) {
  auto got = service::receive_message(conn, service::kMaxMessage, 0, 0);
  if (!got || got->closed) return service::ErrorMessage{EPIPE, "gone", ""};
  auto m = service::decode(got->bytes);
  return m ? *m : service::Message{service::ErrorMessage{EPROTO, "bad", ""}};
}
void say(int conn, const service::Message& m, std::span<const int> fds = {}) {
  [[maybe_unused]] Status s = service::send_message(conn, service::encode(m), fds, 0);
}
void welcome(int conn) {
  next(conn);  // hello
  say(conn, service::Welcome{1, 64, "fake"});
}
std::uint32_t request_id(const service::Message& m) {
  const auto* r = std::get_if<service::SocketsRequest>(&m);
  return r ? r->id : 0;
}

class StackServiceClientTest : public ::testing::Test {
protected:
  TempDir dir_;
  std::string path_ = dir_.file("fake.sock");
};

TEST_F(StackServiceClientTest, NoDaemonIsEnoentOrEconnrefusedAndLeavesNoFd) {
  const int before = open_fd_count();
  auto none = StackServiceClient::connect(path_, 1s);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ENOENT);
  EXPECT_NE(none.error().message.find("is dmm-stackd running?"), std::string::npos) << none.error().message;
  {
    UniqueFd dead(::socket(AF_UNIX, SOCK_SEQPACKET, 0));
    const sockaddr_un sun = address_of(path_);
    ASSERT_EQ(::bind(dead.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun), 0);
  }
  auto stale = StackServiceClient::connect(path_, 1s);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ECONNREFUSED);
  EXPECT_EQ(open_fd_count(), before);

  auto bad = StackServiceClient::connect(std::string(200, 'x'), 1s);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ENAMETOOLONG);
  EXPECT_EQ(StackServiceClient::connect(path_, 0ms).error().code, EINVAL);
}

TEST_F(StackServiceClientTest, AStreamListenerIsNotTheService) {
  UniqueFd stream = listen_at(path_, SOCK_STREAM);
  auto c = StackServiceClient::connect(path_, 1s);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, EPROTOTYPE);
}

TEST_F(StackServiceClientTest, ASilentDaemonTimesOutWithinTheTimeout) {
  const int before = open_fd_count();
  UniqueFd listener = listen_at(path_, SOCK_SEQPACKET);  // connects (the backlog), never answers
  const auto started = std::chrono::steady_clock::now();
  auto c = StackServiceClient::connect(path_, 300ms);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ETIMEDOUT);
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 1500ms);
  listener.reset();
  EXPECT_EQ(open_fd_count(), before);
}

// A daemon too busy to accept: connect itself waits (the backlog is full), bounded by the same timeout.
TEST_F(StackServiceClientTest, AFullBacklogTimesOutWithinTheTimeout) {
  UniqueFd listener(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  const sockaddr_un sun = address_of(path_);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun), 0);
  ASSERT_EQ(::listen(listener.get(), 0), 0);
  std::vector<UniqueFd> queued;
  for (int i = 0; i < 16; ++i) {
    UniqueFd q(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (::connect(q.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof sun) != 0) break;  // EAGAIN: full
    queued.push_back(std::move(q));
  }
  const int before = open_fd_count();
  const auto started = std::chrono::steady_clock::now();
  auto c = StackServiceClient::connect(path_, 300ms);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ETIMEDOUT) << c.error().message;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_EQ(open_fd_count(), before);
}

TEST_F(StackServiceClientTest, ARequestTimesOutAndItsLateReplyIsDiscarded) {
  UniqueFd late_socket(::socket(AF_INET, SOCK_STREAM, 0));
  struct stat late {};
  ::fstat(late_socket.get(), &late);
  UniqueFd right_socket(::socket(AF_INET, SOCK_STREAM, 0));
  struct stat right {};
  ::fstat(right_socket.get(), &right);
  FakeService fake(path_, [&](int conn) {
    welcome(conn);
    const std::uint32_t first = request_id(next(conn));  // not answered in time
    const std::uint32_t second = request_id(next(conn));
    const int late_fd[] = {late_socket.get()};
    say(conn, service::SocketsReply{first, 0, 1, "", ""}, late_fd);
    const int right_fd[] = {right_socket.get()};
    say(conn, service::SocketsReply{second, 0, 1, "", ""}, right_fd);
    next(conn);  // until the client goes
  });
  auto c = StackServiceClient::connect(path_, 300ms);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_GE(c->fd(), kernel::high_fd_floor());
  auto first = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, ETIMEDOUT);
  const int before = open_fd_count();
  auto second = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
  ASSERT_TRUE(second.ok()) << second.error().message;
  ASSERT_EQ(second->size(), 1u);
  struct stat got {};
  ::fstat((*second)[0].get(), &got);
  EXPECT_EQ(got.st_ino, right.st_ino);
  EXPECT_NE(got.st_ino, late.st_ino);
  // The late reply's descriptor was closed on arrival: only the one handed over is new.
  EXPECT_EQ(open_fd_count(), before + 1);
}

TEST_F(StackServiceClientTest, RepliesThatBreakTheProtocolAreEprotoAndLeaveNothing) {
  UniqueFd udp(::socket(AF_INET, SOCK_DGRAM, 0));
  UniqueFd tcp(::socket(AF_INET, SOCK_STREAM, 0));
  FakeService fake(path_, [&](int conn) {
    welcome(conn);
    const int one[] = {tcp.get()};
    say(conn, service::SocketsReply{request_id(next(conn)), 0, 2, "", ""}, one);  // announces 2, carries 1
    const int wrong[] = {udp.get()};
    say(conn, service::SocketsReply{request_id(next(conn)), 0, 1, "", ""}, wrong);  // UDP for a TCP request
    say(conn, service::Welcome{1, 64, "again?"}, {});  // not a reply
    next(conn);
    say(conn, service::SocketsReply{request_id(next(conn)), 0, 1, "", ""}, {});  // announces 1, carries none
    next(conn);
  });
  auto c = StackServiceClient::connect(path_, 2s);
  ASSERT_TRUE(c.ok()) << c.error().message;
  const int before = open_fd_count();
  auto short_reply = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 2);
  ASSERT_FALSE(short_reply.ok());
  EXPECT_EQ(short_reply.error().code, EPROTO);
  EXPECT_NE(short_reply.error().message.find("announces 2 and carries 1"), std::string::npos);
  auto wrong_kind = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
  ASSERT_FALSE(wrong_kind.ok());
  EXPECT_EQ(wrong_kind.error().code, EPROTO);
  EXPECT_NE(wrong_kind.error().message.find("AF_INET/SOCK_DGRAM"), std::string::npos) << wrong_kind.error().message;
  auto not_reply = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
  ASSERT_FALSE(not_reply.ok());
  EXPECT_EQ(not_reply.error().code, EPROTO);
  auto empty = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, EPROTO);
  EXPECT_EQ(open_fd_count(), before);
}

TEST_F(StackServiceClientTest, RefusalsCarryTheDaemonsErrnoAndMessage) {
  FakeService fake(path_, [&](int conn) {
    welcome(conn);
    say(conn, service::SocketsReply{request_id(next(conn)), EACCES, 0, "not_allowed", "uid 7 may not"});
    next(conn);
    say(conn, service::ErrorMessage{EPROTO, "bad_magic", "last word"});
  });
  auto c = StackServiceClient::connect(path_, 2s);
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto refused = c->sockets("blue", AF_INET6, SOCK_DGRAM, 0, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, EACCES);
  EXPECT_EQ(refused.error().message, "dmm-stackd: not_allowed: uid 7 may not");
  auto last = c->sockets("blue", AF_INET6, SOCK_DGRAM, 0, 1);
  ASSERT_FALSE(last.ok());
  EXPECT_EQ(last.error().code, EPROTO);
  EXPECT_EQ(last.error().message, "dmm-stackd: bad_magic: last word");
}

TEST_F(StackServiceClientTest, ADaemonThatGoesAwayIsEpipe) {
  auto fake = std::make_unique<FakeService>(path_, [&](int conn) {
    welcome(conn);
    next(conn);  // the request; then the connection closes
  });
  auto c = StackServiceClient::connect(path_, 2s);
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto gone = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, EPIPE);
  fake.reset();
  auto again = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().code == EPIPE || again.error().code == ECONNRESET) << again.error().message;
}

TEST_F(StackServiceClientTest, AWelcomeInAnotherVersionOrAnythingElseIsRefused) {
  {
    FakeService fake(path_, [&](int conn) {
      next(conn);
      say(conn, service::Welcome{7, 64, "future"});
    });
    auto c = StackServiceClient::connect(path_, 2s);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, EPROTONOSUPPORT);
  }
  ::unlink(path_.c_str());
  {
    FakeService fake(path_, [&](int conn) {
      next(conn);
      say(conn, service::ErrorMessage{ECONNREFUSED, "too_many_peers", "full"});
    });
    auto c = StackServiceClient::connect(path_, 2s);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, ECONNREFUSED);
    EXPECT_EQ(c.error().message, "dmm-stackd: too_many_peers: full");
  }
  ::unlink(path_.c_str());
  {
    FakeService fake(path_, [&](int conn) {
      next(conn);
      [[maybe_unused]] Status s = service::send_message(conn, "HTTP/1.1 400 Bad Request\r\n", {}, 0);
    });
    auto c = StackServiceClient::connect(path_, 2s);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, EPROTO);
    EXPECT_NE(c.error().message.find("bad_magic"), std::string::npos) << c.error().message;
  }
}

// The shim's fork children connect afresh: a client made in a child works and is independent of the parent's.
TEST_F(StackServiceClientTest, AForkedChildConnectsAfresh) {
  auto listener = listen_at(path_, SOCK_SEQPACKET);
  // Each connection on a thread of its own: the parent's stays open, idle, while the child's is served.
  std::vector<std::thread> connections;
  std::thread server([&] {
    for (int i = 0; i < 2; ++i) {
      const int conn = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) return;
      connections.emplace_back([conn] {
        UniqueFd owned(conn);
        welcome(conn);
        UniqueFd s(::socket(AF_INET, SOCK_DGRAM, 0));
        const int fds[] = {s.get()};
        say(conn, service::SocketsReply{request_id(next(conn)), 0, 1, "", ""}, fds);
        next(conn);
      });
    }
  });
  auto parent = StackServiceClient::connect(path_, 2s);
  ASSERT_TRUE(parent.ok());
  const int parent_fd = parent->fd();
  const std::string said = run_as({::getuid(), ::getgid(), {}, ""}, [&]() -> std::string {
    ::close(parent_fd);  // what the shim does in a fork child
    auto c = StackServiceClient::connect(path_, 2s);
    if (!c) return c.error().message;
    auto fds = c->sockets("blue", AF_INET, SOCK_DGRAM, 0, 1);
    return fds ? "ok" : fds.error().message;
  });
  EXPECT_EQ(said, "ok");
  auto mine = parent->sockets("blue", AF_INET, SOCK_DGRAM, 0, 1);
  EXPECT_TRUE(mine.ok()) << mine.error().message;
  parent = make_error(EPIPE, "closed");
  server.join();
  for (std::thread& t : connections) t.join();
}

}  // namespace
}  // namespace dmm::test
