#pragma once
// The far end of a workload: accepts connections on a stack and serves them (sink, request-response, echo).
// Written against the Stack API only, so it has no ns-3 in it.
#include <map>
#include <memory>

#include "dmm/executor.hpp"
#include "dmm/graveyard.hpp"
#include "dmm/stack.hpp"
#include "run/delivery_ledger.hpp"

namespace dmm::sim {

enum class ServeKind { sink, request_response, echo };

struct ServeSpec {
  ServeKind kind = ServeKind::sink;
  ByteCount request = 0;   // request-response: bytes to read before answering
  ByteCount response = 0;  // request-response: bytes of the answer
  // UDP sinks: read the datagram tags (run/datagram_tag.hpp) of what arrives and enter it here. Not owned.
  DeliveryLedger* datagram_ledger = nullptr;
};

class WorkloadServer final : public AcceptEvents {
public:
  WorkloadServer(Executor& executor, ServeSpec spec);
  ~WorkloadServer() override;
  Status listen(Stack& stack, const Endpoint& on, L4Proto proto);
  void on_accept(std::unique_ptr<Connection> connection) override;
  std::uint64_t accepted() const { return accepted_; }
  ByteCount bytes_received() const { return bytes_received_; }

private:
  class Served;
  void finished(Served* served);

  Executor& executor_;
  ServeSpec spec_;
  std::unique_ptr<Listener> listener_;
  std::map<Served*, std::unique_ptr<Served>> served_;
  std::uint64_t accepted_ = 0;
  ByteCount bytes_received_ = 0;
  Graveyard<Served> graveyard_;  // last member: finished connections go first (initialised in the .cpp)
};

}  // namespace dmm::sim
