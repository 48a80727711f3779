#pragma once
// Checks on the raw bytes of a YAML text before yaml-cpp sees them.
//
// Why: yaml-cpp 0.7's scanner queues every token while a "simple key" may still be pending, and it does not
// enforce YAML's 1024-character limit on implicit keys. A 16 MiB line of `[` or `&a ` therefore costs
// gigabytes before the first parser event, so no limit in the tree builder can help. Bounding line length,
// flow nesting and the span of a flow collection here bounds that queue. The same pass rejects what would
// make yaml-cpp guess an encoding or read binary as text (NUL and other control bytes, invalid UTF-8) and tab
// indentation, each with a precise position.
#include <cstddef>
#include <string_view>

#include "scenario/yaml_tree.hpp"

namespace dmm::scenario::yaml {

struct PrecheckLimits {
  std::size_t max_line = 1u << 20;       // bytes in one line
  std::size_t max_flow_span = 1u << 20;  // bytes from an outermost `[` / `{` to its closing bracket
  int max_flow_depth = 64;
  std::string_view document = "a scenario";  // what the text is meant to be, for messages
};

// Throws Failure (stamped with `source`) at the first problem.
void precheck(std::string_view text, int source, const PrecheckLimits& limits = {});

}  // namespace dmm::scenario::yaml
