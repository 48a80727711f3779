// lwip-dpdk on a veth whose kernel peer keeps its default offloads (tx-checksumming, TSO), as users' veths do:
// frames with checksums left to fill in and TSO super-frames arrive whole and are counted as finished here; a
// frame from outside the kernel with a wrong checksum is still refused; a Linux server that sends lone response
// segments never resends one because lwIP's acknowledgement came too late; an interface set down does not spin
// the loop; datagrams of many fragments arrive whole both ways (issue 15).
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <string>

#include "dmm/datagram_socket.hpp"
#include "dmm/kernel/netns_socket_factory.hpp"
#include "echo_peers.hpp"
#include "lwip_dpdk_stack.hpp"
#include "lwip_lab.hpp"
#include "offload_frames.hpp"

namespace dmm::test {
namespace {

using namespace std::chrono_literals;
constexpr Duration kDeadline = 60s;  // only a hang reaches it

const lwip_dpdk::PortCounters& port_counters(Stack& stack) {
  return dynamic_cast<lwip_dpdk::LwipDpdkStack&>(stack).interface().port().counters();
}

// `ethtool -k` of the peer's end: what the kernel there will leave undone in the frames it sends.
std::string peer_offloads(const LwipLab& lab, const std::string& dev) {
  std::string out;
  if (FILE* p = ::popen(("ip netns exec " + lab.srv() + " ethtool -k " + dev + " 2>&1").c_str(), "r")) {
    char buffer[512];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, p)) out.append(buffer, n);
    ::pclose(p);
  }
  return out;
}

// `size` bytes from lwIP instance `user` to a kernel echo server at `server`:`port` in the lab's server namespace
// and back; every byte must return, in order.
void expect_echo(LwipLab& lab, Stack& user, const std::string& server, std::uint16_t port, std::size_t size) {
  auto server_stack = lab.server_stack();
  EchoServer echo;
  auto listener = server_stack->listen(endpoint(server, port), L4Proto::tcp, echo);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  EchoClient client(make_payload(size));
  auto connection = user.connect(endpoint(server, port), L4Proto::tcp, client);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  client.attach(std::move(*connection));
  ASSERT_TRUE(lab.executor().run_until([&] { return client.done(); }, kDeadline));
  ASSERT_FALSE(client.error) << client.error->message;
  EXPECT_TRUE(client.received == client.payload());
}

TEST(LwipDefaultOffloads, AKernelPeersPartialChecksumsAndSuperFramesArriveWholeAndAreCounted) {
  LwipLab lab;
  const std::string dev = lab.add_path(0);
  const std::string offloads = peer_offloads(lab, lab.peer_of(dev));
  ASSERT_NE(offloads.find("tx-checksumming: on"), std::string::npos) << "the premise: " << offloads;
  ASSERT_NE(offloads.find("tcp-segmentation-offload: on"), std::string::npos) << offloads;
  auto user = lab.lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  expect_echo(lab, **user, "10.77.0.1", 7101, 8 * 1024 * 1024);  // the kernel's echo comes in TSO super-frames
  const auto& counters = port_counters(**user);
  EXPECT_GT(counters.rx_checksums_completed, 0u);  // e.g. the SYN-ACK and ACKs
  EXPECT_GT(counters.rx_gso_frames, 0u);           // super-frames, each taken as one segment
  EXPECT_GT(counters.tx_super_frames, 0u);         // and lwIP's own segments left joined
  EXPECT_EQ(counters.rx_dropped, 0u);
}

std::array<std::uint8_t, 6> mac_of(const std::string& ns, const std::string& dev) {
  auto factory = kernel::NetnsSocketFactory::open(ns);
  if (!factory) throw std::runtime_error(factory.error().message);
  auto fd = factory->socket(AF_INET, SOCK_DGRAM, 0);
  if (!fd) throw std::runtime_error(fd.error().message);
  ifreq request{};
  std::strncpy(request.ifr_name, dev.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd->get(), SIOCGIFHWADDR, &request) != 0) throw std::runtime_error("SIOCGIFHWADDR " + dev);
  std::array<std::uint8_t, 6> mac;
  std::memcpy(mac.data(), request.ifr_hwaddr.sa_data, 6);
  return mac;
}

// An Ethernet/IPv4/UDP frame 10.77.0.1:9999 -> 10.77.0.2:port with correct checksums, then `udp_checksum_delta`
// added to the UDP checksum (a frame damaged after its sender, as on a wire).
std::vector<std::uint8_t> udp_frame(const std::array<std::uint8_t, 6>& to, const std::array<std::uint8_t, 6>& from,
                                    std::uint16_t port, const std::string& payload, std::uint16_t udp_checksum_delta) {
  std::vector<std::uint8_t> f(14 + 20 + 8 + payload.size());
  auto put16 = [&](std::size_t at, std::uint16_t v) {
    f[at] = static_cast<std::uint8_t>(v >> 8);
    f[at + 1] = static_cast<std::uint8_t>(v);
  };
  std::copy(to.begin(), to.end(), f.begin());
  std::copy(from.begin(), from.end(), f.begin() + 6);
  put16(12, 0x0800);
  f[14] = 0x45;
  put16(16, static_cast<std::uint16_t>(20 + 8 + payload.size()));
  f[22] = 64;
  f[23] = 17;
  const std::uint8_t addresses[8] = {10, 77, 0, 1, 10, 77, 0, 2};
  std::copy(addresses, addresses + 8, f.begin() + 26);
  put16(24, static_cast<std::uint16_t>(~lwip_dpdk::checksum_fold(lwip_dpdk::checksum_add({&f[14], 20}))));
  put16(34, 9999);
  put16(36, port);
  put16(38, static_cast<std::uint16_t>(8 + payload.size()));
  std::memcpy(&f[42], payload.data(), payload.size());
  std::uint32_t sum = lwip_dpdk::checksum_add({&f[26], 8}) + 17 + std::uint32_t(8 + payload.size());
  sum = lwip_dpdk::checksum_add({&f[34], 8 + payload.size()}, sum);
  put16(40, static_cast<std::uint16_t>(static_cast<std::uint16_t>(~lwip_dpdk::checksum_fold(sum)) + udp_checksum_delta));
  return f;
}

TEST(LwipDefaultOffloads, AFrameWithAWrongChecksumFromOutsideTheKernelIsStillRefused) {
  LwipLab lab;
  const std::string dev = lab.add_path(0);
  auto user = lab.lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  EventRecorder events;
  auto socket = (*user)->open_datagram(DatagramOptions{.local = endpoint("10.77.0.2", 9000)}, events);
  ASSERT_TRUE(socket.ok()) << socket.error().message;

  // Raw frames written into the peer's end by a packet socket: to lwIP they look like frames from a wire (no
  // offload mark), so lwIP checks their checksums itself.
  auto factory = kernel::NetnsSocketFactory::open(lab.srv());
  ASSERT_TRUE(factory.ok()) << factory.error().message;
  auto raw = factory->socket(AF_PACKET, SOCK_RAW, 0);
  ASSERT_TRUE(raw.ok()) << raw.error().message;
  ifreq request{};
  std::strncpy(request.ifr_name, lab.peer_of(dev).c_str(), IFNAMSIZ - 1);
  ASSERT_EQ(::ioctl(raw->get(), SIOCGIFINDEX, &request), 0);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = request.ifr_ifindex;
  to.sll_halen = 6;
  const auto lwip_mac = mac_of(lab.lw(), dev), peer_mac = mac_of(lab.srv(), lab.peer_of(dev));
  for (const auto& [payload, delta] : {std::pair{std::string("corrupt"), std::uint16_t{1}},
                                       std::pair{std::string("intact"), std::uint16_t{0}}}) {
    const auto frame = udp_frame(lwip_mac, peer_mac, 9000, payload, delta);
    ASSERT_EQ(::sendto(raw->get(), frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(frame.size()));
  }
  ASSERT_TRUE(lab.executor().run_until([&] { return events.readable > 0; }, kDeadline));
  lab.executor().run_until([] { return false; }, 100ms);  // time for anything else to arrive
  std::vector<std::string> received;
  for (;;) {
    std::array<std::byte, 64> buffer;
    auto got = (*socket)->receive_from(buffer);
    if (!got) break;
    received.emplace_back(reinterpret_cast<const char*>(buffer.data()), got->size);
  }
  EXPECT_EQ(received, std::vector<std::string>{"intact"});
  EXPECT_EQ(port_counters(**user).rx_checksums_completed, 0u);  // nothing marked: nothing filled in
}

// Sends one request, waits for its response, then stays silent past Linux's minimum RTO, as an HTTP keep-alive
// client between requests does: lwIP's delayed ACK must reach the server before the server's RTO fires.
struct QuietRequester final : ConnectionEvents {
  void on_connected() override { connected = true; }
  void on_readable() override {
    std::array<std::byte, 4096> buffer;
    for (;;) {
      auto n = connection->receive(buffer);
      if (!n || *n == 0) break;
      received += *n;
    }
  }
  void on_failed(const Error& e) override { error = e; }
  std::unique_ptr<Connection> connection;
  bool connected = false;
  std::size_t received = 0;
  std::optional<Error> error;
};

TEST(LwipDefaultOffloads, ALinuxServerNeverResendsALoneResponseSegmentToLwip) {
  LwipLab lab;
  const std::string dev = lab.add_path(0);
  auto user = lab.lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  auto server_stack = lab.server_stack();
  EchoServer server;
  auto listener = server_stack->listen(endpoint("10.77.0.1", 7102), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  QuietRequester client;
  auto connection = (*user)->connect(endpoint("10.77.0.1", 7102), L4Proto::tcp, client);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  client.connection = std::move(*connection);
  ASSERT_TRUE(lab.executor().run_until([&] { return client.connected || client.error; }, kDeadline));
  ASSERT_FALSE(client.error) << client.error->message;
  const std::string request(200, 'q');
  constexpr int kExchanges = 8;
  for (int i = 1; i <= kExchanges; ++i) {
    ASSERT_TRUE(client.connection->send(std::as_bytes(std::span(request))).ok());
    ASSERT_TRUE(lab.executor().run_until([&] { return client.received == i * request.size() || client.error; },
                                         kDeadline));
    lab.executor().run_until([] { return false; }, 350ms);  // silent: only lwIP's own ACK can answer
  }
  ASSERT_FALSE(client.error) << client.error->message;
  ASSERT_EQ(server.sessions.size(), 1u);
  EXPECT_EQ(server.sessions[0]->connection().metrics().retransmits, 0u)
      << "the Linux server resent a response lwIP had received but not yet acknowledged";
}


// The same over IPv6: TSO super-frames from the kernel (TCPV6) taken whole, lwIP's segments joined into TCPV6
// super-frames on the way out, every byte in order.
TEST(LwipDefaultOffloads, IPv6SuperFramesTravelBothWaysWhole) {
  LwipLab lab;
  const std::string dev = lab.add_path(0);
  ASSERT_TRUE(run_command("ip -n " + lab.srv() + " addr add fd00:77::1/64 dev " + lab.peer_of(dev) + " nodad").ok());
  auto user = lab.lwip_stack(0, dev, {{"address6", "fd00:77::2/64"}});
  ASSERT_TRUE(user.ok()) << user.error().message;
  expect_echo(lab, **user, "fd00:77::1", 7104, 8 * 1024 * 1024);
  const auto& counters = port_counters(**user);
  EXPECT_GT(counters.rx_gso_frames, 0u);
  EXPECT_GT(counters.tx_super_frames, 0u);
  EXPECT_EQ(counters.rx_dropped, 0u);
}

double process_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// The instance's own interface set down (dmm-emu's stack failure, an operator) makes its packet socket report
// ENETDOWN: the idle loop must not spin on that error, and frames must flow again once the interface is up.
TEST(LwipPacketPort, AnInterfaceSetDownNeitherSpinsTheLoopNorStopsTrafficAfterItComesBackUp) {
  LwipLab lab;
  const std::string dev = lab.add_path(0);
  auto user = lab.lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  ASSERT_TRUE(run_command("ip -n " + lab.lw() + " link set " + dev + " down").ok());
  const double before = process_cpu_seconds();
  lab.executor().run_until([] { return false; }, std::chrono::milliseconds(500));
  EXPECT_LT(process_cpu_seconds() - before, 0.2) << "the loop spun while the interface was down";
  ASSERT_TRUE(run_command("ip -n " + lab.lw() + " link set " + dev + " up").ok());
  expect_echo(lab, **user, "10.77.0.1", 7103, 1024 * 1024);
}

// Datagrams larger than the MTU travel as IPv4 fragments: lwIP reassembles what the kernel sends (DPDK's
// af_packet had the kernel reassemble them into frames its 2 KiB buffers cut short), and fragments what it sends.
TEST(LwipPacketPort, DatagramsOfManyFragmentsArriveWholeBothWays) {
  LwipLab lab;
  const std::string dev = lab.add_path(0);
  auto user = lab.lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  EventRecorder events;
  auto socket = (*user)->open_datagram(DatagramOptions{.local = endpoint("10.77.0.2", 9100)}, events);
  ASSERT_TRUE(socket.ok()) << socket.error().message;
  auto peer = lab.server_socket(SOCK_DGRAM, 9101);
  ASSERT_TRUE(peer.ok()) << peer.error().message;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9100);
  to.sin_addr.s_addr = htonl(0x0a4d0002);  // 10.77.0.2
  for (std::size_t size : {3000u, 30000u, 60000u}) {
    const auto payload = make_payload(size);
    ASSERT_EQ(::sendto(peer->get(), payload.data(), size, 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(size));
    std::vector<std::byte> buffer(65536);
    Result<DatagramSocket::Received> got = make_error(EAGAIN, "");
    // (run_until asks once more at the end: the condition must not consume a second datagram)
    ASSERT_TRUE(lab.executor().run_until(
        [&] { return got.ok() || (got = (*socket)->receive_from(buffer)).ok(); }, kDeadline))
        << size << " bytes to lwIP";
    ASSERT_EQ(got->size, size);
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(), buffer.begin())) << size << " bytes to lwIP";
    EXPECT_EQ(got->from.to_string(), "10.77.0.1:9101");

    ASSERT_TRUE((*socket)->send_to(endpoint("10.77.0.1", 9101), payload).ok());
    ssize_t n = -1;
    ASSERT_TRUE(lab.executor().run_until(
        [&] { return n >= 0 || (n = ::recv(peer->get(), buffer.data(), buffer.size(), MSG_DONTWAIT)) >= 0; },
        kDeadline))
        << size << " bytes from lwIP";
    ASSERT_EQ(n, static_cast<ssize_t>(size));
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(), buffer.begin())) << size << " bytes from lwIP";
  }
}

}  // namespace
}  // namespace dmm::test
