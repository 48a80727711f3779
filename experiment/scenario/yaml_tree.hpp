#pragma once
// A small, immutable YAML tree with a position on every node, built from yaml-cpp's event parser.
//
// Why not YAML::Node: the loader must survive hostile input (DESIGN.md §2.3: never a crash or a hang). With our
// own builder we can bound what yaml-cpp's node graph cannot: nesting depth, the size the document reaches once
// aliases are expanded (a "billion laughs" file is a few hundred bytes), duplicate keys (yaml-cpp keeps both
// silently), and non-text keys. We also keep whether a scalar was quoted and where each key is, for messages.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dmm::scenario::yaml {

// Where a node came from: the scenario file (source 0) or the i-th `--set` override (source i, 1-based).
// Line and column are 1-based.
struct Where {
  int source = 0;
  int line = 1;
  int column = 1;
};

// The loader's one internal exception: thrown where a problem is found, turned into an Error at the boundary
// (load_text). Parsing is the place DESIGN.md §3 allows exceptions, and it keeps every check a single line.
struct Failure {
  Where where;
  std::string what;
};

[[noreturn]] void fail(const Where& where, std::string what);

struct Node;
// Nodes are shared, never mutated after parsing: an alias is the anchored node itself, and overrides copy the
// nodes on their path (copy-on-write) so that they never change what another alias sees.
using NodeRef = std::shared_ptr<const Node>;

struct Entry {
  std::string key;
  Where key_where;
  NodeRef value;
};

struct Node {
  enum class Kind { null, scalar, sequence, map };
  Kind kind = Kind::null;
  Where where;
  std::string text;            // scalar
  bool quoted = false;         // scalar written in quotes or with a tag: never null, a bool or a number
  std::vector<NodeRef> items;  // sequence
  std::vector<Entry> entries;  // map, in file order, keys unique
  std::size_t weight = 1;      // nodes in this subtree with aliases expanded (bounds any walk over it)
  int height = 1;              // nesting levels in this subtree, aliases expanded

  const Entry* find(std::string_view key) const;
  bool is_null() const { return kind == Kind::null; }
  bool is_scalar() const { return kind == Kind::scalar; }
  bool is_sequence() const { return kind == Kind::sequence; }
  bool is_map() const { return kind == Kind::map; }
};

// "a map", "a list", "text `abc`", "nothing (null)": what a message says was found instead.
std::string describe(const Node& node);

struct Limits {
  std::size_t max_bytes = 16u << 20;    // a scenario is a few KiB; anything near this is not one
  int max_depth = 64;                   // the schema needs 5 levels; deeper is an attack or an accident
  std::size_t max_nodes = 1'000'000;    // with aliases expanded
  // What the text is meant to be, for messages ("a scenario", "a host config"): a binary file handed to the wrong
  // tool must be named for what that tool expected.
  std::string_view document = "a scenario";
};

// Parses one YAML document of `text`; `source` is stamped on every node (see Where). Returns null for an
// empty document (nothing but comments and blanks). Throws Failure for anything that is not well-formed YAML
// within the limits, including a second document, tabs in indentation, control characters and invalid UTF-8.
NodeRef parse(std::string_view text, int source, const Limits& limits = {});

// Flow-style YAML of a node, one line, scalars as written: `{between: [12s, 20s], stack: slow}`.
std::string to_flow(const Node& node);
// Block-style YAML of a node, the way scenario files are written: one map key per line, list items one per line
// in flow style. Parsing it again gives the same tree (scalars keep their text and their quotedness).
std::string to_block(const Node& node);

}  // namespace dmm::scenario::yaml
