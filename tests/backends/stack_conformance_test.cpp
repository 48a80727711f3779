// The Stack conformance suite (tests/common/stack_conformance.hpp) on the kernel kind and on the test plug-in kind
// (`relay`, loaded from its shared library and relaying over a kernel instance): two namespaces joined by a veth.
#include "stack_conformance.hpp"

#include <stdexcept>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/host_world.hpp"
#include "dmm/kernel/kernel_stack.hpp"
#include "dmm/stack_registry.hpp"
#include "netns_lab.hpp"

namespace dmm::conformance {
namespace {

Endpoint endpoint(const char* address, std::uint16_t port) {
  auto a = IpAddress::parse(address);
  if (!a) throw std::runtime_error(a.error().message);
  return Endpoint{*a, port};
}

template <typename T>
T value_or_throw(Result<T> r) {
  if (!r) throw std::runtime_error(r.error().message);
  return std::move(*r);
}

// A kernel instance in namespace `a` (10.233.1.1) with its peer, another kernel instance, in `b` (10.233.1.2).
class KernelWorld {
public:
  // The kernel knows at once that no route leads there.
  static constexpr int kUnreachableErrno = ENETUNREACH;

  KernelWorld() {
    a_ = value_or_throw(lab_.add_namespace());
    b_ = value_or_throw(lab_.add_namespace());
    (void)value_or_throw(lab_.link(a_, "10.233.1.1/24", b_, "10.233.1.2/24"));
    executor_ = value_or_throw(kernel::EpollExecutor::create());
    stack_ = value_or_throw(kernel::KernelStack::create(kernel::KernelStackConfig{"under-test", a_}, *executor_));
    peer_ = value_or_throw(kernel::KernelStack::create(kernel::KernelStackConfig{"peer", b_}, *executor_));
  }

  Stack& stack() { return *stack_; }
  Stack& peer() { return *peer_; }
  Endpoint peer_endpoint(std::uint16_t port) { return endpoint("10.233.1.2", port); }
  Endpoint stack_endpoint(std::uint16_t port) { return endpoint("10.233.1.1", port); }
  Endpoint unreachable(std::uint16_t port) { return endpoint("10.99.0.1", port); }
  bool run_until(const std::function<bool()>& done, Duration limit) { return executor_->run_until(done, limit); }

protected:
  test::NetnsLab lab_;  // first: removed last, after every socket
  std::string a_, b_;
  std::unique_ptr<kernel::EpollExecutor> executor_;
  std::unique_ptr<Stack> stack_, peer_;
};

// The plug-in kind `relay` (tests/plugins/relay_stack_plugin.cpp), made by the registry after load_plugin, over the
// kernel instance: a kind compiled outside the program keeps every promise of the interface.
class PluginWorld : public KernelWorld {
public:
  static constexpr int kUnreachableErrno = ENETUNREACH;  // the kernel's answer, relayed

  PluginWorld() : world_(*executor_) {
    if (auto st = registry_.load_plugin(DMM_TEST_PLUGIN); !st) throw std::runtime_error(st.error().message);
    world_.add_stack(*stack_);
    relay_ = value_or_throw(registry_.create(StackConfig{"relay", "relay", {{"over", "under-test"}}}, world_));
    if (relay_->info().kind != "relay") throw std::runtime_error("the plug-in did not make a relay");
  }
  Stack& stack() { return *relay_; }

private:
  StackRegistry registry_;
  kernel::HostWorld world_;
  std::unique_ptr<Stack> relay_;
};

INSTANTIATE_TYPED_TEST_SUITE_P(Kernel, StackConformance, KernelWorld);
INSTANTIATE_TYPED_TEST_SUITE_P(Plugin, StackConformance, PluginWorld);

}  // namespace
}  // namespace dmm::conformance
