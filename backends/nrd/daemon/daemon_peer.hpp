#pragma once
// One connection to dmm-nrd (internal to the daemon): who it is, what it said in its hello, what it holds, and
// the framed connection it speaks over. Its events go straight to the daemon.
#include <memory>
#include <optional>
#include <string>

#include "dmm/nrd/framed_connection.hpp"
#include "dmm/nrd/messages.hpp"
#include "dmm/nrd/nrd_daemon.hpp"
#include "dmm/nrd/socket_ops.hpp"

namespace dmm::nrd {

class NrdDaemon::Peer final : public FramedConnection::Events {
public:
  Peer(NrdDaemon& daemon, PeerId id, bool unix_socket, std::string who, std::optional<PeerCredentials> credentials,
       TimePoint now)
      : daemon(daemon),
        id(id),
        unix_socket(unix_socket),
        who(std::move(who)),
        credentials(credentials),
        connected_at(now),
        last_heard(now) {}

  void on_frame(Frame frame) override;
  void on_protocol_error(const Error& error) override;
  void on_closed(const std::optional<Error>& why) override;

  NrdDaemon& daemon;
  const PeerId id;
  const bool unix_socket;
  const std::string who;  // `unix pid=12 uid=0 gid=0` or `tcp 10.0.0.2:41000`, for logs and status
  const std::optional<PeerCredentials> credentials;
  std::unique_ptr<FramedConnection> connection;
  std::optional<Hello> hello;
  TimePoint connected_at;
  TimePoint last_heard;
  bool subscribed = false;
  bool watching = false;
  PolicyVersion held = 0;  // from hello and heartbeats
  std::uint64_t applied = 0;
  std::uint64_t rejected = 0;
  std::uint64_t samples = 0;
};

}  // namespace dmm::nrd
