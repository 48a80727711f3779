#include "scenario/overrides.hpp"

#include <algorithm>
#include <memory>
#include <unordered_set>

#include "scenario/field.hpp"

namespace dmm::scenario {

using yaml::Node;
using yaml::NodeRef;
using yaml::Where;

std::string override_key(const std::string& override_text) {
  return override_text.substr(0, override_text.find('='));
}

namespace {

std::vector<std::string> split_path(const std::string& key, const Where& where) {
  std::vector<std::string> parts;
  std::size_t begin = 0;
  while (true) {
    const std::size_t dot = key.find('.', begin);
    parts.push_back(key.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin));
    if (parts.back().empty()) yaml::fail(where, "empty component in the key path (expected a.b.c=VALUE)");
    if (dot == std::string::npos) return parts;
    begin = dot + 1;
  }
}

// Which items of a list `part` names: one by its index, or every item whose `name:` is `part`. Every one, because
// a stack instance name repeats on each node that has one (`stacks.fast.tcp=bbr` means all the `fast` stacks;
// `stacks.4.tcp=bbr` edits one item).
std::vector<std::size_t> select_items(const Node& list, const std::string& part, const std::string& walked,
                                      const Where& where) {
  const bool numeric = part.find_first_not_of("0123456789") == std::string::npos;
  if (numeric && part.size() <= 9) {
    const std::size_t index = std::stoul(part);
    if (index < list.items.size()) return {index};
  }
  std::vector<std::string> names;  // for the message: each once (a hostile list may hold 10^5 names)
  std::unordered_set<std::string> seen;
  std::vector<std::size_t> named;
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    const Node& item = *list.items[i];
    const yaml::Entry* name = item.is_map() ? item.find("name") : nullptr;
    if (!name || !name->value->is_scalar()) continue;
    if (name->value->text == part) named.push_back(i);
    if (seen.insert(name->value->text).second) names.push_back(name->value->text);
  }
  if (!named.empty()) return named;
  std::string known = list.items.empty() ? "it is empty"
                                          : "use an index 0.." + std::to_string(list.items.size() - 1);
  if (!names.empty()) known += " or a name: " + join_names(names);
  yaml::fail(where, "'" + walked + "' has no item '" + part + "' (" + known + ")");
}

void recompute(Node& node) {
  node.weight = 1;
  node.height = 1;
  const auto take = [&](const NodeRef& child) {
    node.weight += child->weight;
    node.height = std::max(node.height, child->height + 1);
  };
  for (const auto& item : node.items) take(item);
  for (const auto& entry : node.entries) take(entry.value);
}

// A copy of `node` with the value at parts[i..] replaced by `value`; only the nodes on the path are copied.
NodeRef replace(const Node& node, const std::vector<std::string>& parts, std::size_t i, const NodeRef& value,
                const Where& where) {
  std::string walked;
  for (std::size_t k = 0; k < i; ++k) walked += (k ? "." : "") + parts[k];
  const std::string& part = parts[i];
  const bool last = i + 1 == parts.size();
  auto copy = std::make_shared<Node>(node);
  if (node.is_map()) {
    auto it = std::find_if(copy->entries.begin(), copy->entries.end(),
                           [&](const yaml::Entry& e) { return e.key == part; });
    if (it == copy->entries.end()) {
      if (!last) {
        std::vector<std::string> keys;
        for (const auto& e : node.entries) keys.push_back(e.key);
        yaml::fail(where, (walked.empty() ? std::string("the scenario") : "'" + walked + "'") + " has no key '" +
                              part + "' (keys: " + join_names(keys) + ")");
      }
      copy->entries.push_back(yaml::Entry{part, where, value});
    } else {
      it->value = last ? value : replace(*it->value, parts, i + 1, value, where);
    }
  } else if (node.is_sequence()) {
    for (const std::size_t index : select_items(node, part, walked, where))
      copy->items[index] = last ? value : replace(*node.items[index], parts, i + 1, value, where);
  } else {
    yaml::fail(where, "'" + walked + "' is " + yaml::describe(node) + ", not a map or a list, so it has no '" +
                          part + "'");
  }
  recompute(*copy);
  return copy;
}

}  // namespace

NodeRef apply_overrides(const NodeRef& root, const std::vector<std::string>& overrides) {
  NodeRef current = root;
  for (std::size_t i = 0; i < overrides.size(); ++i) {
    const std::string& text = overrides[i];
    const Where where{static_cast<int>(i) + 1, 1, 1};
    const std::size_t eq = text.find('=');
    if (eq == std::string::npos) yaml::fail(where, "expected KEY=VALUE, e.g. duration=10s");
    const std::vector<std::string> parts = split_path(text.substr(0, eq), where);
    NodeRef value = yaml::parse(std::string_view(text).substr(eq + 1), where.source);
    if (!value) {
      auto null = std::make_shared<Node>();
      null->where = where;
      value = std::move(null);
    }
    current = replace(*current, parts, 0, value, where);
  }
  return current;
}

}  // namespace dmm::scenario
