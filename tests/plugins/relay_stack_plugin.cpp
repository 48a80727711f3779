// A stack-kind plug-in used by the tests: kind `relay` carries sessions over another stack instance of the same
// world (`over: NAME`) and counts them. It proves that a kind compiled outside the program, loaded with
// `plugins: [path.so]`, registers by name and carries real sessions in a scenario.
#include <memory>

#include "dmm/stack_registry.hpp"

namespace {

class RelayStack final : public dmm::Stack {
public:
  RelayStack(dmm::StackInfo info, dmm::Stack& over) : info_(std::move(info)), over_(over) {}
  const dmm::StackInfo& info() const override { return info_; }
  dmm::Result<std::unique_ptr<dmm::Connection>> connect(const dmm::Endpoint& to, dmm::L4Proto proto,
                                                        dmm::ConnectionEvents& events) override {
    ++connects_;
    return over_.connect(to, proto, events);
  }
  dmm::Result<std::unique_ptr<dmm::Listener>> listen(const dmm::Endpoint& on, dmm::L4Proto proto,
                                                     dmm::AcceptEvents& events) override {
    return over_.listen(on, proto, events);
  }

private:
  dmm::StackInfo info_;
  dmm::Stack& over_;
  std::uint64_t connects_ = 0;
};

dmm::Result<std::unique_ptr<dmm::Stack>> make_relay(const dmm::StackConfig& config, dmm::StackWorld& world) {
  auto over = config.params.find("over");
  if (over == config.params.end()) {
    return dmm::make_error(EINVAL, "stack '" + config.name + "': kind 'relay' needs 'over: STACK'");
  }
  dmm::Stack* target = world.find_stack(over->second);
  if (!target) return dmm::make_error(ENOENT, "stack '" + config.name + "': no stack '" + over->second + "' to relay over");
  dmm::StackInfo info{config.name, "relay", target->info().capabilities};
  return std::unique_ptr<dmm::Stack>(std::make_unique<RelayStack>(std::move(info), *target));
}

}  // namespace

extern "C" __attribute__((visibility("default"))) void dmm_register_stack_kinds(dmm::StackRegistry& registry) {
  (void)registry.add({"relay", {"over"}, make_relay});
}
