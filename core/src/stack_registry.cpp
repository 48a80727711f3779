#include "dmm/stack_registry.hpp"

#include <dlfcn.h>

namespace dmm {

Status StackRegistry::add(StackKind kind) {
  if (kind.name.empty()) return make_error(EINVAL, "stack kind with an empty name");
  if (!kind.factory) return make_error(EINVAL, "stack kind '" + kind.name + "' has no factory");
  if (kinds_.count(kind.name)) return make_error(EEXIST, "stack kind '" + kind.name + "' is already registered");
  std::string name = kind.name;
  kinds_.emplace(std::move(name), std::move(kind));
  return {};
}

const StackKind* StackRegistry::find(const std::string& name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : &it->second;
}

std::vector<std::string> StackRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, kind] : kinds_) out.push_back(name);
  return out;
}

Result<std::unique_ptr<Stack>> StackRegistry::create(const StackConfig& config, StackWorld& world) const {
  const StackKind* kind = find(config.kind);
  if (!kind) return make_error(ENOENT, "unknown stack kind '" + config.kind + "'");
  for (const auto& [key, value] : config.params) {
    bool known = false;
    for (const auto& p : kind->params) known = known || p == key;
    if (!known) return make_error(EINVAL, "stack '" + config.name + "': kind '" + config.kind +
                                              "' has no parameter '" + key + "'");
  }
  return kind->factory(config, world);
}

Status StackRegistry::load_plugin(const std::string& path) {
  // RTLD_NODELETE: stacks created by the plug-in may outlive any handle we would keep, so never unload it.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!handle) {
    const char* why = dlerror();
    return make_error(ENOENT, "cannot load plug-in '" + path + "': " + (why ? why : "unknown error"));
  }
  auto fn = reinterpret_cast<dmm_register_stack_kinds_fn>(dlsym(handle, "dmm_register_stack_kinds"));
  if (!fn) {
    dlclose(handle);
    return make_error(EINVAL, "plug-in '" + path + "' does not export dmm_register_stack_kinds");
  }
  const auto before = kinds_.size();
  fn(*this);
  if (kinds_.size() == before) return make_error(EINVAL, "plug-in '" + path + "' registered no stack kind");
  return {};
}

}  // namespace dmm
