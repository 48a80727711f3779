#include "scenario/yaml_tree.hpp"

#include "scenario/yaml_precheck.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <unordered_map>

namespace dmm::scenario::yaml {

void fail(const Where& where, std::string what) { throw Failure{where, std::move(what)}; }

const Entry* Node::find(std::string_view key) const {
  for (const auto& e : entries)
    if (e.key == key) return &e;
  return nullptr;
}

namespace {

std::string clip(std::string_view text) {
  constexpr std::size_t kMax = 40;
  if (text.size() <= kMax) return std::string(text);
  return std::string(text.substr(0, kMax)) + "...";
}

}  // namespace

std::string describe(const Node& node) {
  switch (node.kind) {
    case Node::Kind::null: return "nothing (null)";
    case Node::Kind::scalar: {
      // Appended rather than `"`" + clip(...)`, which trips GCC 12's false -Wrestrict positive.
      std::string out(1, '`');
      out += clip(node.text);
      out += '`';
      return out;
    }
    case Node::Kind::sequence: return "a list";
    case Node::Kind::map: return "a map";
  }
  return "?";
}

namespace {

// ---- Tree builder ---------------------------------------------------------------------------------------------

class TreeBuilder final : public YAML::EventHandler {
public:
  TreeBuilder(int source, const Limits& limits) : source_(source), limits_(limits) {}

  NodeRef root() const { return root_; }
  bool saw_document() const { return documents_ > 0; }
  Where last() const { return last_; }
  Where where(const YAML::Mark& mark) {
    if (!mark.is_null()) last_ = Where{source_, mark.line + 1, mark.column + 1};
    return last_;
  }

  void OnDocumentStart(const YAML::Mark& mark) override {
    // yaml-cpp also starts a new document for text left over after a complete one (a dedent too far).
    if (++documents_ > 1)
      fail(where(mark), "more YAML after the end of the document (check the indentation; " +
                            std::string(limits_.document) + " is one YAML document, without '---' separators)");
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto node = leaf(mark);
    node->kind = Node::Kind::null;
    at_its_key(*node);
    finish(std::move(node), anchor);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    auto node = leaf(mark);
    // yaml-cpp tags a plain scalar "?" and a quoted one "!"; a plain `~` or `null` is YAML's null.
    node->quoted = tag != "?";
    if (!node->quoted && (value == "~" || value == "null" || value == "Null" || value == "NULL")) {
      node->kind = Node::Kind::null;
      at_its_key(*node);
    } else {
      node->kind = Node::Kind::scalar;
      node->text = value;
    }
    finish(std::move(node), anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const Where here = where(mark);
    const auto it = anchors_.find(anchor);
    if (it == anchors_.end()) fail(here, "alias to a node that contains it (a recursive alias)");
    const NodeRef& target = it->second;
    // The alias costs what walking its expansion costs: this is what defuses alias bombs.
    count(target->weight, here);
    if (static_cast<int>(frames_.size()) + target->height > limits_.max_depth)
      fail(here, "nesting deeper than " + std::to_string(limits_.max_depth) + " levels (through an alias)");
    add(target, here);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value style) override {
    open(mark, Node::Kind::sequence, anchor, style);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value style) override {
    open(mark, Node::Kind::map, anchor, style);
  }
  void OnMapEnd() override { close(); }

private:
  struct Frame {
    std::shared_ptr<Node> node;
    YAML::anchor_t anchor = 0;
    bool have_key = false;  // maps: the key of the next value has been seen
    std::string key;
    Where key_where;
    bool key_is_merge = false;  // the key is a plain `<<`: its value's entries are merged in at close()
    // Maps: line of each key so far. Hashed because a flat map of 10^6 keys must not cost 10^12 comparisons.
    std::unordered_map<std::string, int> key_lines;
    std::vector<NodeRef> merges;  // maps named by `<<`, in order (the first one wins a key two of them have)
  };

  // An empty value (`duration:` and nothing) is reported by yaml-cpp at the next token, often the next line's
  // key: a message about it must point at its own line, just after its key.
  void at_its_key(Node& node) const {
    if (frames_.empty()) return;
    const Frame& top = frames_.back();
    if (!top.node->is_map() || !top.have_key || node.where.line <= top.key_where.line) return;
    node.where = Where{top.key_where.source, top.key_where.line,
                       top.key_where.column + static_cast<int>(top.key.size()) + 1};
  }

  // YAML's merge key (`<<: *defaults`, or a list of them): keys written in the map itself win, then the merged
  // maps in the order given. Merged entries keep where they were written (the anchored map), for messages.
  static void merge_into(Frame& frame) {
    for (const NodeRef& source : frame.merges) {
      for (const Entry& entry : source->entries) {
        if (!frame.key_lines.emplace(entry.key, entry.key_where.line).second) continue;
        frame.node->entries.push_back(entry);
      }
    }
  }

  void take_merge(Frame& top, const NodeRef& value, const Where& here) {
    const auto bad = [&](const Node& n) {
      fail(here, "a merge key (<<) takes a map or a list of maps (e.g. `<<: *defaults`), got " + describe(n));
    };
    if (value->is_map()) {
      top.merges.push_back(value);
      return;
    }
    if (!value->is_sequence()) bad(*value);
    for (const NodeRef& item : value->items) {
      if (!item->is_map()) bad(*item);
      top.merges.push_back(item);
    }
  }

  std::shared_ptr<Node> leaf(const YAML::Mark& mark) {
    auto node = std::make_shared<Node>();
    node->where = where(mark);
    count(1, node->where);
    return node;
  }

  void count(std::size_t weight, const Where& here) {
    nodes_ += weight;
    if (nodes_ > limits_.max_nodes)
      fail(here, "the document expands to more than " + std::to_string(limits_.max_nodes) +
                     " nodes (too large, or an alias bomb)");
  }

  void open(const YAML::Mark& mark, Node::Kind kind, YAML::anchor_t anchor, YAML::EmitterStyle::value style) {
    auto node = leaf(mark);
    node->kind = kind;
    if (static_cast<int>(frames_.size()) + 1 > limits_.max_depth)
      fail(node->where, "nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    if (!frames_.empty() && frames_.back().node->is_map() && !frames_.back().have_key)
      // yaml-cpp reads an unclosed `[` or `{` at the end of the input as the key of a map.
      fail(node->where, "a map key must be text, not " + describe(*node) +
                            (style == YAML::EmitterStyle::Flow ? " (is a '[' or '{' left unclosed?)" : ""));
    frames_.push_back(Frame{std::move(node), anchor, false, {}, {}, false, {}, {}});
  }

  void close() {
    Frame frame = std::move(frames_.back());
    frames_.pop_back();
    if (frame.have_key)  // yaml-cpp always pairs keys with values; guard anyway rather than assume
      fail(frame.key_where, "key '" + frame.key + "' has no value");
    if (!frame.merges.empty()) merge_into(frame);
    finish(std::move(frame.node), frame.anchor);
  }

  void finish(std::shared_ptr<Node> node, YAML::anchor_t anchor) {
    NodeRef done = std::move(node);
    if (anchor != 0) anchors_[anchor] = done;
    add(done, done->where);
  }

  // Attaches a finished node to the open collection (or makes it the root).
  void add(const NodeRef& child, const Where& here) {
    if (frames_.empty()) {
      root_ = child;
      return;
    }
    Frame& top = frames_.back();
    Node& parent = *top.node;
    parent.weight += child->weight;
    parent.height = std::max(parent.height, child->height + 1);
    if (parent.is_sequence()) {
      parent.items.push_back(child);
      return;
    }
    if (!top.have_key) {
      if (!child->is_scalar()) fail(here, "a map key must be text, not " + describe(*child));
      const auto [first, fresh] = top.key_lines.emplace(child->text, child->where.line);
      if (!fresh)
        fail(here, "duplicate key '" + clip(child->text) + "' (first at line " + std::to_string(first->second) + ")");
      top.have_key = true;
      top.key = child->text;
      top.key_where = child->where;
      top.key_is_merge = child->text == "<<" && !child->quoted;
      return;
    }
    top.have_key = false;
    if (top.key_is_merge) {
      take_merge(top, child, here);
      top.key.clear();
      return;
    }
    parent.entries.push_back(Entry{std::move(top.key), top.key_where, child});
    top.key.clear();
  }

  int source_;
  Limits limits_;
  int documents_ = 0;
  std::size_t nodes_ = 0;
  Where last_{source_, 1, 1};
  std::vector<Frame> frames_;
  std::map<YAML::anchor_t, NodeRef> anchors_;
  NodeRef root_;
};

// yaml-cpp's messages are terse lower-case phrases ("end of map not found"); say that it is the syntax.
std::string yaml_message(const std::string& msg) { return "invalid YAML: " + msg; }

}  // namespace

NodeRef parse(std::string_view text, int source, const Limits& limits) {
  if (text.size() > limits.max_bytes)
    fail(Where{source, 1, 1}, "larger than " + std::to_string(limits.max_bytes >> 20) + " MiB; not " +
                                   std::string(limits.document));
  precheck(text, source, PrecheckLimits{.max_flow_depth = limits.max_depth, .document = limits.document});
  std::istringstream in{std::string(text)};
  TreeBuilder builder(source, limits);
  try {
    YAML::Parser parser(in);
    if (!parser.HandleNextDocument(builder)) return nullptr;
    // A second document is an error; the builder throws as soon as it starts.
    parser.HandleNextDocument(builder);
  } catch (const YAML::Exception& e) {
    fail(e.mark.is_null() ? builder.last() : builder.where(e.mark), yaml_message(e.msg));
  }
  const NodeRef root = builder.root();
  if (!root || root->is_null()) return nullptr;
  return root;
}

namespace {

bool needs_quotes(const Node& node) {
  const std::string& t = node.text;
  if (node.quoted || t.empty()) return true;
  if (t.front() == ' ' || t.back() == ' ') return true;
  return t.find_first_of(",[]{}:#\"'&*!|>%@`\n\r\t\\") != std::string::npos;
}

void flow(const Node& node, std::string& out) {
  switch (node.kind) {
    case Node::Kind::null: out += "~"; return;
    case Node::Kind::scalar:
      if (!needs_quotes(node)) {
        out += node.text;
        return;
      }
      out += '"';
      for (const char c : node.text) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else out += c;
      }
      out += '"';
      return;
    case Node::Kind::sequence:
      out += '[';
      for (std::size_t i = 0; i < node.items.size(); ++i) {
        if (i) out += ", ";
        flow(*node.items[i], out);
      }
      out += ']';
      return;
    case Node::Kind::map:
      out += '{';
      for (std::size_t i = 0; i < node.entries.size(); ++i) {
        if (i) out += ", ";
        Node key;
        key.kind = Node::Kind::scalar;
        key.text = node.entries[i].key;
        flow(key, out);
        out += ": ";
        flow(*node.entries[i].value, out);
      }
      out += '}';
      return;
  }
}

// Block style the way scenario files are written: maps one key per line, list items one per line in flow
// style (`- {name: wan-a, rate: 100Mbps}`), scalars exactly as flow() writes them.
void block(const Node& node, int indent, std::string& out) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  if (node.is_map()) {
    for (const auto& e : node.entries) {
      Node key;
      key.kind = Node::Kind::scalar;
      key.text = e.key;
      out += pad;
      flow(key, out);
      out += ':';
      const Node& v = *e.value;
      // A list of scalars stays on the key's line (`nodes: [client, server]`), as it is usually written.
      const bool nested = (v.is_map() && !v.entries.empty()) ||
                          (v.is_sequence() && std::any_of(v.items.begin(), v.items.end(),
                                                          [](const NodeRef& item) { return !item->is_scalar(); }));
      if (!nested) {
        out += ' ';
        flow(v, out);
        out += '\n';
      } else {
        out += '\n';
        block(v, indent + 2, out);
      }
    }
  } else if (node.is_sequence()) {
    for (const auto& item : node.items) {
      out += pad + "- ";
      flow(*item, out);
      out += '\n';
    }
  } else {
    out += pad;
    flow(node, out);
    out += '\n';
  }
}

}  // namespace

std::string to_flow(const Node& node) {
  std::string out;
  flow(node, out);
  return out;
}

std::string to_block(const Node& node) {
  std::string out;
  block(node, 0, out);
  return out;
}

}  // namespace dmm::scenario::yaml
