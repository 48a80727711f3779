// The scenario loader's boundary (DESIGN.md §2.1, §2.3): text in, a fully validated Scenario or one
// `FILE:LINE:COL: what is wrong` out. Nothing thrown inside (yaml::Failure, yaml-cpp, allocation) escapes.
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <system_error>

#include "scenario/field.hpp"
#include "scenario/loader_sections.hpp"
#include "scenario/overrides.hpp"
#include "scenario/scenario.hpp"
#include "scenario/yaml_tree.hpp"

namespace dmm::scenario {
namespace {

constexpr yaml::Limits kLimits{};

std::string format(const yaml::Failure& f, const std::string& file, const std::vector<std::string>& overrides) {
  if (f.where.source > 0 && static_cast<std::size_t>(f.where.source) <= overrides.size())
    return "--set " + override_key(overrides[static_cast<std::size_t>(f.where.source) - 1]) + ": " + f.what;
  return file + ":" + std::to_string(f.where.line) + ":" + std::to_string(f.where.column) + ": " + f.what;
}

Error error_at_start(const std::string& file, const std::string& what) {
  return make_error(EINVAL, file + ":1:1: " + what);
}

// The scenario as it will run, for the results directory: `--seed` written into `seed:`, plug-in paths made
// absolute (they were relative to the original file's directory, which the copy does not share).
std::string effective_yaml(yaml::NodeRef root, const Scenario& s) {
  std::vector<std::string> fixes;
  if (s.seed_option) fixes.push_back("seed=" + std::to_string(*s.seed_option));
  if (!s.plugins.empty()) {
    std::string list = "[";
    for (const auto& p : s.plugins) {
      yaml::Node path;
      path.kind = yaml::Node::Kind::scalar;
      path.text = std::filesystem::absolute(p).lexically_normal().string();
      path.quoted = true;
      list += (list.size() > 1 ? ", " : "") + yaml::to_flow(path);
    }
    fixes.push_back("plugins=" + list + "]");
  }
  return yaml::to_block(*apply_overrides(root, fixes));
}

Scenario build(std::string_view text, const std::string& file_name, const LoadOptions& options) {
  yaml::NodeRef root = yaml::parse(text, 0, kLimits);
  if (!root) yaml::fail(yaml::Where{}, "empty scenario (expected a map with name, duration, topology, ...)");
  root = apply_overrides(root, options.overrides);

  Scenario s;
  s.file = file_name;
  const auto dir = std::filesystem::path(file_name).parent_path();
  detail::LoadContext ctx{options, s, dir.empty() ? std::string(".") : dir.string(), {}};

  const MapReader top(Field{root.get(), ""}, "the scenario");
  top.allow({"name", "description", "seed", "duration", "topology", "plugins", "stacks", "nrd", "policy",
             "workloads", "events", "expect", "nsocket"});
  s.name = read_name(top.require("name"));
  if (auto f = top.get("description")) s.description = read_text(*f);
  if (auto f = top.get("seed")) s.seed = read_uint(*f, 0, UINT64_MAX);
  if (options.seed) s.seed = *options.seed;
  const Field duration = top.require("duration");
  s.duration = read_duration(duration);
  if (s.duration <= Duration{0}) duration.fail("the run must last longer than 0s");

  // Dependency order: each section checks its names against those typed before it.
  detail::load_topology(top, ctx);
  detail::load_plugins(top, ctx);
  detail::load_stacks(top, ctx);
  detail::load_nrd(top, ctx);
  detail::load_nsocket(top, ctx);
  detail::load_policy(top, ctx);
  detail::load_workloads(top, ctx);
  detail::load_events(top, ctx);
  detail::load_expect(top, ctx);
  const std::vector<Field> workload_fields = top.require("workloads").items();
  detail::check_routes(workload_fields, ctx);
  detail::check_size(workload_fields, ctx);

  s.overrides = options.overrides;
  s.seed_option = options.seed;
  s.effective_yaml = effective_yaml(root, s);
  return s;
}

}  // namespace

Result<Scenario> load_text(const std::string& text, const std::string& file_name, const LoadOptions& options) {
  try {
    return build(text, file_name, options);
  } catch (const yaml::Failure& f) {
    return make_error(EINVAL, format(f, file_name, options.overrides));
  } catch (const std::bad_alloc&) {
    return error_at_start(file_name, "out of memory while loading the scenario");
  } catch (const std::exception& e) {
    // A bug (ours or yaml-cpp's), but still bad input must never crash the tool.
    return error_at_start(file_name, std::string("internal error while loading: ") + e.what());
  } catch (...) {
    return error_at_start(file_name, "internal error while loading");
  }
}

Result<Scenario> load_file(const std::string& path, const LoadOptions& options) {
  try {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return error_at_start(path, "is a directory, not a scenario file");
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return error_at_start(path, "cannot read: " + ec.message());
    // Checked before reading so that a huge file costs nothing.
    if (size > kLimits.max_bytes)
      return error_at_start(path, "larger than " + std::to_string(kLimits.max_bytes >> 20) + " MiB; not a scenario");
    std::ifstream in(path, std::ios::binary);
    if (!in) return error_at_start(path, "cannot open for reading");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return error_at_start(path, "read error");
    return load_text(text.str(), path, options);
  } catch (const std::exception& e) {
    return error_at_start(path, std::string("cannot read: ") + e.what());
  }
}

}  // namespace dmm::scenario
