#pragma once
// The results directory must be usable before hours of simulation go into it, not found wanting after (issue 12).
// Shared by dmm-sim (--out) and the Python bindings (out=), so both refuse alike and at the same moment.
#include <filesystem>

#include "dmm/result.hpp"

namespace dmm::sim {

// Creates `dir` (and its parents) and proves a file can be written in it; EINVAL saying why not (an empty path, a
// file in the way, no permission, a read-only or pseudo filesystem such as /proc).
Status prepare_results_dir(const std::filesystem::path& dir);

}  // namespace dmm::sim
