#pragma once
// The results directory must be usable before hours of simulation go into it, not found wanting after (issue 12).
// Shared by dmm-sim (--out) and the Python bindings (out=), so both refuse alike and at the same moment.
#include <filesystem>

#include "dmm/result.hpp"

namespace dmm::sim {

// Creates `dir` (and its parents) and proves a file can be written in it; EINVAL saying why not (an empty path, a
// file in the way, no permission, a read-only or pseudo filesystem such as /proc). True when `dir` itself was
// created here: a run that then fails writes nothing, and removes it again (remove_if_unused).
Result<bool> prepare_results_dir(const std::filesystem::path& dir);

// Removes `dir` if prepare_results_dir created it and nothing was written into it since.
void remove_if_unused(const std::filesystem::path& dir, bool created);

}  // namespace dmm::sim
