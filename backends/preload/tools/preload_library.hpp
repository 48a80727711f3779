#pragma once
// Where libdmm_preload.so is, for dmm-run: next to the running binary in a build tree (build/bin -> build/lib)
// or an install (PREFIX/bin -> PREFIX/lib), or the install libdir compiled in.
#include <optional>
#include <string>

namespace dmm::preload {

// DMM_PRELOAD_LIBRARY (an override for unusual layouts) if set, else the first candidate that exists; absolute.
std::optional<std::string> find_preload_library();

// `library` in front of an existing LD_PRELOAD list (ld.so splits it on spaces and colons), once.
std::string prepend_preload(const std::string& library, const char* existing);

}  // namespace dmm::preload
