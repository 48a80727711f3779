// The Stack conformance suite (tests/common/stack_conformance.hpp) on the lwip-dpdk kind: an lwIP instance on a
// veth through net_af_packet (10.77.0.2), its peer a kernel instance in the lab's server namespace (10.77.0.1).
#include "stack_conformance.hpp"

#include <stdexcept>

#include "lwip_lab.hpp"

namespace dmm::conformance {
namespace {

class LwipWorld {
public:
  // lwIP looks its routes up when connect is called: no route is known at once, as in the kernel.
  static constexpr int kUnreachableErrno = ENETUNREACH;

  LwipWorld() : lab_(std::make_unique<test::LwipLab>()) {
    auto made = lab_->lwip_stack(0, lab_->add_path(0));
    if (!made) throw std::runtime_error(made.error().message);
    stack_ = std::move(*made);
    peer_ = lab_->server_stack();
  }
  ~LwipWorld() {
    // The instance may still owe closed connections their data: let it finish, then stacks before the lab.
    (void)lab_->executor().run_until([&] { return !stack_->delivering(); }, std::chrono::seconds(5));
    stack_.reset();
    peer_.reset();
  }

  Stack& stack() { return *stack_; }
  Stack& peer() { return *peer_; }
  Endpoint peer_endpoint(std::uint16_t port) { return test::endpoint("10.77.0.1", port); }
  Endpoint stack_endpoint(std::uint16_t port) { return test::endpoint("10.77.0.2", port); }
  Endpoint unreachable(std::uint16_t port) { return test::endpoint("10.99.0.1", port); }
  bool run_until(const std::function<bool()>& done, Duration limit) { return lab_->executor().run_until(done, limit); }

private:
  std::unique_ptr<test::LwipLab> lab_;  // first: destroyed last
  std::unique_ptr<Stack> stack_;
  std::unique_ptr<Stack> peer_;
};

INSTANTIATE_TYPED_TEST_SUITE_P(LwipDpdk, StackConformance, LwipWorld);

}  // namespace
}  // namespace dmm::conformance
