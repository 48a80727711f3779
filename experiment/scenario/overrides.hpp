#pragma once
// `--set key=value` (DESIGN.md §2.3): edits applied to the scenario's YAML tree before it is typed, so an
// override is checked exactly like the file itself.
#include <string>
#include <vector>

#include "scenario/yaml_tree.hpp"

namespace dmm::scenario {

// Applies `overrides[i]` (`a.b.c=VALUE`) in order and returns the new root; `root` itself is not changed.
// Path components select map keys, list items by index (`stacks.0`) or by their `name:` (`links.wan-a`) — every
// item of that name (a stack name repeats once per node); the last component may also add a key to an existing
// map. VALUE is parsed as YAML (`10s`, `[a, b]`, `{x: 1}`).
// Nodes that come from override i carry source i + 1. Throws yaml::Failure (with that source) when the
// override is malformed or its path does not exist.
yaml::NodeRef apply_overrides(const yaml::NodeRef& root, const std::vector<std::string>& overrides);

// The `KEY` part of an override, for messages (`--set KEY: ...`); the whole text when it has no `=`.
std::string override_key(const std::string& override_text);

}  // namespace dmm::scenario
