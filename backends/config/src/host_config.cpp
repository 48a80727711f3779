// The host config loader's boundary (DESIGN.md §2.5, §2.3): text in, a fully validated HostConfig or one
// `FILE:LINE:COL: what is wrong` out; and the boundary helpers other real-host configs share (config_text.hpp).
#include <array>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <system_error>
#include <utility>

#include "dmm/host/config_text.hpp"
#include "host_sections.hpp"
#include "scenario/yaml_tree.hpp"

namespace dmm::host {
namespace {

namespace yaml = scenario::yaml;

// A host config is a few dozen lines; a megabyte is not one, and the bound keeps hostile input cheap.
constexpr std::size_t kMaxBytes = 1u << 20;
// The schema needs four levels (policy > rule > match > value); deeper nesting is an accident or an attack.
constexpr yaml::Limits kLimits{
    .max_bytes = kMaxBytes, .max_depth = 32, .max_nodes = 100'000, .document = "a host config"};

constexpr std::array<std::pair<LogLevel, std::string_view>, 5> kLevels{{{LogLevel::trace, "trace"},
                                                                       {LogLevel::debug, "debug"},
                                                                       {LogLevel::info, "info"},
                                                                       {LogLevel::warn, "warn"},
                                                                       {LogLevel::error, "error"}}};

Error error_at(const std::string& file, int line, int column, const std::string& what) {
  return config_error(file, line, column, what);
}

Error error_at_start(const std::string& file, const std::string& what) { return error_at(file, 1, 1, what); }

HostConfig build(std::string_view text, const std::string& file_name, const LoadOptions& options) {
  const yaml::NodeRef root = yaml::parse(text, 0, kLimits);
  if (!root)
    yaml::fail(yaml::Where{}, "empty host config (expected a map with `stacks:` and `policy:`, see DESIGN.md §2.5)");

  HostConfig config;
  config.file = file_name;
  detail::LoadContext ctx{options, config, config_base_dir(file_name), {}};
  const scenario::MapReader top(scenario::Field{root.get(), ""}, "the host config");
  top.allow({"stacks", "policy", "nrd", "service", "log", "plugins"});
  // Dependency order: plug-ins bring kinds that stacks use; the policy names stacks.
  detail::load_plugins(top, ctx);
  detail::load_stacks(top, ctx);
  detail::load_policy(top, ctx);
  detail::load_nrd(top, ctx);
  detail::load_service(top, ctx);
  detail::load_log(top, ctx);
  return config;
}

}  // namespace

std::string_view to_string(LogLevel level) {
  for (const auto& [value, name] : kLevels)
    if (value == level) return name;
  return "?";  // an out-of-range value: a bug elsewhere, but printing must not crash
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (const auto& [value, name] : kLevels)
    if (name == text) return value;
  return std::nullopt;
}

const StackSpec* HostConfig::find_stack(std::string_view name) const {
  for (const auto& s : stacks)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<StackId> HostConfig::stack_names() const {
  std::vector<StackId> names;
  names.reserve(stacks.size());
  for (const auto& s : stacks) names.push_back(s.name);
  return names;
}

StackConfig to_stack_config(const StackSpec& spec) { return StackConfig{spec.name, spec.kind, spec.params}; }

Result<HostConfig> load_host_config_text(const std::string& text, const std::string& file_name,
                                         const LoadOptions& options) {
  if (text.size() > kMaxBytes)
    return error_at_start(file_name, "larger than " + std::to_string(kMaxBytes >> 20) + " MiB; not a host config");
  HostConfig config;
  const Status loaded = run_config_loader(file_name, "the host config", [&] { config = build(text, file_name, options); });
  if (!loaded) return loaded.error();
  return config;
}

Result<HostConfig> load_host_config_file(const std::string& path, const LoadOptions& options) {
  auto text = read_config_file(path, kMaxBytes, "a host config");
  if (!text) return text.error();
  return load_host_config_text(*text, path, options);
}

Error config_error(const std::string& file, int line, int column, const std::string& what) {
  return make_error(EINVAL, file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + what);
}

Result<std::string> read_config_file(const std::string& path, std::size_t max_bytes, std::string_view what) {
  try {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return error_at_start(path, "is a directory, not " + std::string(what));
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return error_at_start(path, "cannot read: " + ec.message());
    // Checked before reading, so that pointing a tool at a huge file costs nothing.
    if (size > max_bytes)
      return error_at_start(path, "larger than " + std::to_string(max_bytes >> 20) + " MiB; not " + std::string(what));
    std::ifstream in(path, std::ios::binary);
    if (!in) return error_at_start(path, "cannot open for reading");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return error_at_start(path, "read error");
    return text.str();
  } catch (const std::exception& e) {
    return error_at_start(path, std::string("cannot read: ") + e.what());
  } catch (...) {
    return error_at_start(path, "cannot read");
  }
}

std::string config_base_dir(const std::string& file_name) {
  const std::filesystem::path dir = std::filesystem::path(file_name).parent_path();
  return std::filesystem::absolute(dir.empty() ? std::filesystem::path(".") : dir).lexically_normal().string();
}

Result<std::string> resolve_config_path(std::string_view text, const std::string& base_dir) {
  if (text.empty()) return make_error(EINVAL, "empty path");
  if (text.find('\0') != std::string_view::npos) return make_error(EINVAL, "a path cannot contain a NUL character");
  std::filesystem::path path(text);
  if (path.is_relative()) path = std::filesystem::path(base_dir) / path;
  return path.lexically_normal().string();
}

Status run_config_loader(const std::string& file, std::string_view what, const std::function<void()>& load) {
  // Nothing thrown inside (yaml::Failure, yaml-cpp, std::filesystem, allocation) escapes: dmm-run, dmm-nrd and
  // the shim call this, and bad input must never crash a program.
  try {
    load();
    return {};
  } catch (const scenario::yaml::Failure& f) {
    return error_at(file, f.where.line, f.where.column, f.what);
  } catch (const std::bad_alloc&) {
    return error_at_start(file, "out of memory while loading " + std::string(what));
  } catch (const std::exception& e) {
    // A bug (ours or a library's), but bad input must still never crash the program.
    return error_at_start(file, std::string("internal error while loading: ") + e.what());
  } catch (...) {
    return error_at_start(file, "internal error while loading");
  }
}

}  // namespace dmm::host
