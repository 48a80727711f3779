#pragma once
// The boundary every YAML config of a real host shares (dmm.yaml here, dmm-nrd's nrd.yaml): bounded reading of the
// file, and one `FILE:LINE:COL: what is wrong` error (EINVAL) for whatever a loader finds, never an exception.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "dmm/result.hpp"

namespace dmm::host {

Error config_error(const std::string& file, int line, int column, const std::string& what);

// The whole file, if it is a readable regular file of at most `max_bytes`; else `PATH:1:1: what is wrong`, where
// `what` names the kind of file ("a host config").
Result<std::string> read_config_file(const std::string& path, std::size_t max_bytes, std::string_view what);

// The directory relative paths in a config start from: `file_name`'s own, made absolute.
std::string config_base_dir(const std::string& file_name);
// `text` as an absolute, normalised path (a relative one starts at `base_dir`); EINVAL for an empty path or a NUL.
Result<std::string> resolve_config_path(std::string_view text, const std::string& base_dir);

// Runs `load`, which reports the first problem by throwing the YAML tree's Failure (experiment/scenario/yaml_tree.hpp),
// and turns that, or any other exception (a bug, or memory), into one error located in `file`.
Status run_config_loader(const std::string& file, std::string_view what, const std::function<void()>& load);

}  // namespace dmm::host
