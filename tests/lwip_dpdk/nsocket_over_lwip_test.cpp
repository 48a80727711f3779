// nSocket, the session layer, over an lwip-dpdk instance: the orchestrator's rule sends a session to the user-space
// stack, 50 MB go to a kernel server and back byte-exact, UDP request/response works, and the samples nSocket
// reports for nRD carry what the lwIP connection measured (bytes, RTT). A second rule falls back from an lwIP
// instance without a route to a kernel instance, as nSocket does for any stack.
#include <gtest/gtest.h>

#include "dmm/nsocket.hpp"
#include "dmm/orchestrator.hpp"
#include "echo_peers.hpp"
#include "lwip_lab.hpp"

namespace dmm::test {
namespace {

using namespace std::chrono_literals;

struct Samples final : PathSampleSink {
  void on_sample(const PathSample& s) override { all.push_back(s); }
  std::vector<PathSample> all;
};

// Sends a payload through a Session, ends its side, collects the echo until end of stream.
class EchoSessionClient final : public SessionEvents {
public:
  explicit EchoSessionClient(std::vector<std::byte> payload) : payload_(std::move(payload)) {}
  void attach(std::unique_ptr<Session> s) { session_ = std::move(s); }
  void on_established(const Decision& d) override {
    decision = d;
    pump();
  }
  void on_failed(const Error& e, const Decision& d) override {
    error = e;
    decision = d;
  }
  void on_writable() override { pump(); }
  void on_readable() override { drain(); }
  void on_peer_closed() override { drain(); }
  bool done() const { return eof || error; }

  std::vector<std::byte> received;
  Decision decision;
  std::optional<Error> error;
  bool eof = false;
  Session& session() { return *session_; }

private:
  void pump() {
    while (sent_ < payload_.size()) {
      auto n = session_->send(std::span(payload_).subspan(sent_));
      if (!n || *n == 0) return;
      sent_ += *n;
    }
    if (!shut_) {
      session_->shutdown_write();
      shut_ = true;
    }
  }
  void drain() {
    std::byte buffer[65536];
    for (;;) {
      auto n = session_->receive(buffer);
      if (!n) return;
      if (*n == 0) {
        eof = true;
        return;
      }
      received.insert(received.end(), buffer, buffer + *n);
    }
  }
  std::unique_ptr<Session> session_;
  std::vector<std::byte> payload_;
  std::size_t sent_ = 0;
  bool shut_ = false;
};

Policy lab_policy() {
  Policy p;
  p.version = 1;
  Rule user;  // the lab's lwIP subnet
  user.match.dst = IpPrefix::parse("10.77.0.0/24").value();
  user.use = {"user0"};
  p.rules.push_back(user);
  Rule elsewhere;  // an lwIP instance has no route there: nSocket falls back to the kernel instance
  elsewhere.use = {"user0", "kernel"};
  p.rules.push_back(elsewhere);
  return p;
}

TEST(NSocketOverLwip, FiftyMegabytesThroughTheSessionLayerWithSamplesForNrd) {
  LwipLab lab;
  const std::string dev = lab.add_path(0);
  auto user = lab.lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  auto server_stack = lab.server_stack();
  EchoServer server;
  auto listener = server_stack->listen(endpoint("10.77.0.1", 7101), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  auto kernel_client = lab.server_stack();  // the fall-back instance

  Orchestrator orchestrator({"user0", "kernel"}, lab_policy());
  Samples samples;
  NSocket nsocket(lab.executor(), orchestrator, {user->get(), kernel_client.get()}, &samples);

  EchoSessionClient client(make_payload(50 * 1024 * 1024));
  auto session = nsocket.open(SessionRequest{.dst = endpoint("10.77.0.1", 7101)}, client);
  ASSERT_TRUE(session.ok()) << session.error().message;
  client.attach(std::move(*session));
  ASSERT_TRUE(lab.executor().run_until([&] { return client.done(); }, 60s));
  ASSERT_FALSE(client.error) << client.error->message;
  EXPECT_EQ(client.decision.stack, "user0");
  EXPECT_EQ(client.decision.rule, 0);
  EXPECT_EQ(client.received.size(), 50u * 1024 * 1024);
  EXPECT_TRUE(client.received == make_payload(50 * 1024 * 1024));
  client.session().close();  // the final sample

  ByteCount delivered = 0;
  bool rtt = false;
  for (const PathSample& s : samples.all) {
    EXPECT_EQ(s.stack, "user0");
    EXPECT_FALSE(s.failure);
    delivered += s.delivered;
    rtt = rtt || (s.rtt && *s.rtt > Duration::zero());
  }
  EXPECT_GE(delivered, 50u * 1024 * 1024);  // both directions are counted
  EXPECT_TRUE(rtt);
}

TEST(NSocketOverLwip, AnInstanceWithoutARouteFallsBackToTheKernelInstance) {
  LwipLab lab;
  const std::string dev = lab.add_path(0);
  auto user = lab.lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  auto kernel_side = lab.server_stack();
  EchoServer server;
  auto listener = kernel_side->listen(endpoint("127.0.0.1", 7102), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok());
  Orchestrator orchestrator({"user0", "kernel"}, lab_policy());
  NSocket nsocket(lab.executor(), orchestrator, {user->get(), kernel_side.get()}, nullptr);
  EchoSessionClient client(make_payload(64 * 1024));
  auto session = nsocket.open(SessionRequest{.dst = endpoint("127.0.0.1", 7102)}, client);
  ASSERT_TRUE(session.ok());
  client.attach(std::move(*session));
  ASSERT_TRUE(lab.executor().run_until([&] { return client.done(); }, 20s));
  ASSERT_FALSE(client.error) << client.error->message;
  EXPECT_EQ(client.decision.stack, "kernel");
  EXPECT_EQ(client.decision.attempts, 2u);
}

}  // namespace
}  // namespace dmm::test
