#pragma once
// Internal to the host-config loader: one function per top-level section, called in dependency order
// (plugins before stacks, stacks before policy) so that each checks its references against what is typed.
// Every function throws scenario::yaml::Failure at the first problem (see experiment/scenario/field.hpp); the
// boundary (host_config.cpp) turns it into `FILE:LINE:COL: what is wrong`.
#include <string>
#include <unordered_map>

#include "dmm/host/host_config.hpp"
#include "scenario/field.hpp"

namespace dmm::host::detail {

using scenario::Field;
using scenario::MapReader;

struct LoadContext {
  const LoadOptions& options;
  HostConfig& config;
  std::string base_dir;                          // the config file's directory: relative paths start here
  std::unordered_map<std::string, int> stacks;   // instance name -> line of its definition
};

inline Mark mark_of(const Field& f) { return Mark{f->where.line, f->where.column}; }

// `path` as an absolute, normalised path; relative ones are taken from the config file's directory.
std::string resolve_path(const Field& f, const LoadContext& ctx);

void load_plugins(const MapReader& top, LoadContext& ctx);
void load_stacks(const MapReader& top, LoadContext& ctx);
void load_policy(const MapReader& top, LoadContext& ctx);
void load_nrd(const MapReader& top, LoadContext& ctx);
void load_service(const MapReader& top, LoadContext& ctx);
// A kernel stack's `allow: {users: [...], groups: [...]}`, names resolved through the account database.
AllowSpec read_allow(const Field& f, bool resolve_accounts);
void load_log(const MapReader& top, LoadContext& ctx);

}  // namespace dmm::host::detail
