#pragma once
// Stack kinds register a factory by name; instances are created from config at run time (Envoy-style plug-ins).
// Kinds come from the program itself (built-ins) or from shared libraries named in the config (`plugins:`),
// which export one C function: `extern "C" void dmm_register_stack_kinds(dmm::StackRegistry&)`.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dmm/result.hpp"
#include "dmm/stack.hpp"

namespace dmm {

class Executor;

// Validated instance config: the common fields plus the kind's own parameters as text (the factory parses them
// and reports which one is wrong). `world` is what the hosting program offers factories (ns-3 nodes, netns, ...).
struct StackConfig {
  StackId name;
  std::string kind;
  std::map<std::string, std::string> params;
};

// A base class for what a world (simulation, real host) hands to factories; factories downcast to what they need.
class StackWorld {
public:
  virtual ~StackWorld() = default;
  virtual Executor& executor() = 0;
  // Another instance of the same world, for kinds that wrap or relay through a stack (nullptr when unknown).
  virtual Stack* find_stack(const StackId& id) = 0;
  // Poll-mode kinds (DPDK queues raise no event) need `poll` called on every turn of the world's loop; it returns
  // whether it found work. `wake_fd`, if the device has one (an AF_PACKET socket's ring), becomes readable when
  // there is work: a loop whose every poller has one can then sleep until then instead of spinning or waking
  // on a timer. A world without such a loop (simulation) refuses with ENOTSUP.
  using PollerId = std::uint64_t;
  virtual Result<PollerId> add_poller(std::function<bool()> poll, int wake_fd = -1) {
    (void)poll;
    (void)wake_fd;
    return make_error(ENOTSUP, "this world has no polling loop");
  }
  virtual void remove_poller(PollerId id) { (void)id; }
};

using StackFactory = std::function<Result<std::unique_ptr<Stack>>(const StackConfig&, StackWorld&)>;

struct StackKind {
  std::string name;
  std::vector<std::string> params;  // the parameter keys this kind accepts (anything else is a config error)
  StackFactory factory;
};

class StackRegistry {
public:
  // A kind may be registered once; a second registration of the same name is an error (EEXIST).
  Status add(StackKind kind);
  const StackKind* find(const std::string& name) const;
  std::vector<std::string> names() const;
  Result<std::unique_ptr<Stack>> create(const StackConfig& config, StackWorld& world) const;
  // dlopen()s `path` and calls its `dmm_register_stack_kinds`. The library stays loaded for the process.
  Status load_plugin(const std::string& path);

private:
  std::map<std::string, StackKind> kinds_;
};

}  // namespace dmm

extern "C" {
// The one symbol a stack-kind plug-in exports.
typedef void (*dmm_register_stack_kinds_fn)(dmm::StackRegistry& registry);
}
