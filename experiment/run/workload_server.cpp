#include "run/workload_server.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

namespace dmm::sim {

// One accepted connection being served.
class WorkloadServer::Served final : public ConnectionEvents {
public:
  Served(WorkloadServer& owner, std::unique_ptr<Connection> c) : owner_(owner), connection_(std::move(c)) {
    if (DeliveryLedger* ledger = owner_.spec_.datagram_ledger) {
      tags_.emplace([ledger, &executor = owner_.executor_](const DatagramTag& tag) {
        ledger->arrived(tag, executor.now());
      });
    }
    connection_->set_events(*this);
  }
  ~Served() override { connection_->close(); }

private:
  void on_readable() override {
    std::array<std::byte, 64 * 1024> buf;
    while (!done_) {
      auto n = connection_->receive(buf);
      if (!n || *n == 0) break;
      received_ += *n;
      owner_.bytes_received_ += *n;
      if (tags_) tags_->feed({buf.data(), *n});
      if (owner_.spec_.kind == ServeKind::echo) echo_.insert(echo_.end(), buf.begin(), buf.begin() + *n);
    }
    if (owner_.spec_.kind == ServeKind::request_response && !answering_ && received_ >= owner_.spec_.request) {
      answering_ = true;
      to_send_ = owner_.spec_.response;
    }
    pump();
  }
  void on_writable() override { pump(); }
  void on_peer_closed() override {
    on_readable();
    finish();
  }
  void on_failed(const Error&) override { finish(); }

  void pump() {
    if (done_) return;
    if (owner_.spec_.kind == ServeKind::echo) {
      while (!echo_.empty()) {
        auto n = connection_->send(echo_);
        if (!n || *n == 0) return;
        echo_.erase(echo_.begin(), echo_.begin() + static_cast<std::ptrdiff_t>(*n));
      }
      return;
    }
    static constexpr std::array<std::byte, 64 * 1024> kZeros{};
    while (sent_ < to_send_) {
      const auto chunk = std::min<ByteCount>(kZeros.size(), to_send_ - sent_);
      auto n = connection_->send({kZeros.data(), static_cast<std::size_t>(chunk)});
      if (!n || *n == 0) return;  // on_writable resumes
      sent_ += *n;
    }
  }

  void finish() {
    if (done_) return;
    done_ = true;
    owner_.finished(this);
  }

  WorkloadServer& owner_;
  std::unique_ptr<Connection> connection_;
  ByteCount received_ = 0, sent_ = 0, to_send_ = 0;
  std::vector<std::byte> echo_;
  std::optional<DatagramTagReader> tags_;  // UDP sinks
  bool answering_ = false;
  bool done_ = false;
};

WorkloadServer::WorkloadServer(Executor& executor, ServeSpec spec)
    : executor_(executor), spec_(spec), graveyard_(executor) {}

WorkloadServer::~WorkloadServer() {
  if (listener_) listener_->close();
}

Status WorkloadServer::listen(Stack& stack, const Endpoint& on, L4Proto proto) {
  auto l = stack.listen(on, proto, *this);
  if (!l) return l.error();
  listener_ = std::move(*l);
  return {};
}

void WorkloadServer::on_accept(std::unique_ptr<Connection> connection) {
  ++accepted_;
  auto served = std::make_unique<Served>(*this, std::move(connection));
  Served* key = served.get();
  served_.emplace(key, std::move(served));
}

void WorkloadServer::finished(Served* served) {
  auto it = served_.find(served);
  if (it == served_.end()) return;
  // Called from inside the connection's own callback: destroyed on the next executor turn.
  graveyard_.bury(std::move(it->second));
  served_.erase(it);
}

}  // namespace dmm::sim
