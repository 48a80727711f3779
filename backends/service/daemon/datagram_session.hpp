#pragma once
// A UDP session of a user-space instance that dmm-stackd runs: a datagram socket of the instance (any peers, or
// one when connected) and the program's real UDP socket in the instance's datagram pump namespace
// (datagram_pump.hpp). The daemon moves each datagram between them with its real addresses, so one socket can talk
// to many peers (a DNS client asking several servers, a DNS server) and every fd operation is the kernel's.
//
// Everything runs on the daemon's executor thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "datagram_pump.hpp"
#include "dmm/datagram_socket.hpp"
#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/path_sample.hpp"
#include "dmm/stack.hpp"
#include "hosted_session.hpp"

namespace dmm::service {

class DatagramSession final : public HostedSession, public ConnectionEvents, public DatagramPump::Sink {
public:
  using Done = std::function<void(std::uint64_t id)>;  // the session ended; called once, from the executor

  // `options.local`: the any address or the instance's, port 0 for one the instance picks; `options.peer`: a
  // connected session's peer. The instance's or the namespace's error (EADDRINUSE, EADDRNOTAVAIL, ENETUNREACH)
  // when it cannot be made.
  static Result<std::unique_ptr<DatagramSession>> open(std::uint64_t id, Stack& stack, DatagramPump& pump,
                                                       const DatagramOptions& options, bool nonblocking,
                                                       kernel::EpollExecutor& executor, PathSampleSink* samples,
                                                       Done done);
  ~DatagramSession() override;
  DatagramSession(const DatagramSession&) = delete;
  DatagramSession& operator=(const DatagramSession&) = delete;

  // HostedSession
  std::uint64_t id() const override { return id_; }
  SessionState state() const override { return state_; }
  int error() const override { return 0; }
  const std::string& why() const override { return why_; }
  Endpoint local() const override { return local_; }
  const std::string& stack_name() const override { return stack_name_; }
  int program_end() const override { return program_.get(); }
  void program_end_sent() override { program_.reset(); }
  void report_progress(bool final) override;
  std::uint64_t program_cookie() const override { return cookie_; }
  void program_closed() override;

  // ConnectionEvents: datagrams arrived on the instance.
  void on_readable() override;
  // DatagramPump::Sink: a datagram the program sent.
  void from_program(const UdpPacket& packet) override;

private:
  DatagramSession(std::uint64_t id, DatagramPump& pump, kernel::EpollExecutor& executor, Done done)
      : id_(id), pump_(pump), executor_(executor), done_(std::move(done)) {}
  void finish();

  const std::uint64_t id_;
  DatagramPump& pump_;
  kernel::EpollExecutor& executor_;
  Done done_;
  std::string stack_name_;
  std::string why_;
  std::unique_ptr<DatagramSocket> socket_;
  kernel::UniqueFd program_;  // the program's end until it is sent
  std::uint64_t cookie_ = 0;
  Endpoint local_;               // as the instance bound it
  std::vector<IpFamily> families_;  // those the pump routes to us (both for a dual-stack IPv6 socket)
  SessionState state_ = SessionState::established;
  std::vector<std::byte> buffer_;
  PathSampleSink* samples_ = nullptr;
  TimePoint last_report_{-1};
  ConnectionMetrics reported_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for work posted to the executor
};

}  // namespace dmm::service
