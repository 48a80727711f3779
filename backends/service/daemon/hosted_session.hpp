#pragma once
// What dmm-stackd's UserStackHost needs of each session it runs on a user-space instance, whatever its shape: a
// pumped stream (PumpedSession: TCP) or a datagram socket (DatagramSession: UDP, one peer or many).
#include <cstdint>
#include <string>

#include "dmm/address.hpp"
#include "dmm/service/messages.hpp"

namespace dmm::service {

class HostedSession {
public:
  virtual ~HostedSession() = default;
  virtual std::uint64_t id() const = 0;
  virtual SessionState state() const = 0;
  virtual int error() const = 0;
  virtual const std::string& why() const = 0;
  virtual Endpoint local() const = 0;
  virtual const std::string& stack_name() const = 0;
  // The program's end, for the reply; the caller closes its copy once sent.
  virtual int program_end() const = 0;
  virtual void program_end_sent() = 0;
  // The session's progress since the last call, as a path sample for dmm-nrd (core progress_sample's rule).
  virtual void report_progress(bool final) = 0;
  // A UDP session's program socket (SO_COOKIE; 0: a session that knows when its program is gone by itself) and
  // what ends it: no process holds that socket any more.
  virtual std::uint64_t program_cookie() const { return 0; }
  virtual void program_closed() {}
};

}  // namespace dmm::service
