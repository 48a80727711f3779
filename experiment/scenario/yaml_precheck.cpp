#include "scenario/yaml_precheck.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

namespace dmm::scenario::yaml {
namespace {

std::string hex(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(c));
  return buf;
}

std::string mib(std::size_t bytes) {
  return bytes % (1u << 20) == 0 ? std::to_string(bytes >> 20) + " MiB" : std::to_string(bytes) + " bytes";
}

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one (overlong forms and surrogates included).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1Fu; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0Fu; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07u; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3Fu);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return n;
}

// A rough YAML lexer: enough to tell brackets that open flow collections from brackets inside quoted text,
// comments and block scalars. Where it guesses wrong it errs towards seeing *fewer* brackets (a weaker check,
// never a false rejection of an ordinary scenario); yaml-cpp and the tree builder still check everything.
class Prechecker {
public:
  Prechecker(std::string_view text, int source, const PrecheckLimits& limits)
      : text_(text), source_(source), limits_(limits) {}

  void run() {
    for (std::size_t i = 0; i < text_.size();) {
      if (column_ == 1) start_line(i);
      const auto c = static_cast<unsigned char>(text_[i]);
      const Where here{source_, line_, column_};
      check_byte(c, here);
      if (c == '\n') {
        end_line();
        ++i;
        continue;
      }
      const std::size_t n = utf8_length(text_, i);
      if (n == 0) fail(here, "invalid UTF-8 (byte " + hex(c) + "); " + std::string(limits_.document) + " is UTF-8 text");
      if (n == 1) lex(static_cast<char>(c), i, here);
      i += n;
      column_ += static_cast<int>(n);  // columns count bytes, as yaml-cpp's marks do
    }
  }

private:
  enum class State { plain, single_quoted, double_quoted, comment, block_scalar };

  void check_byte(unsigned char c, const Where& here) const {
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)
      fail(here, "control character " + hex(c) + " is not allowed (is this a text file?)");
    if (static_cast<std::size_t>(column_) > limits_.max_line)
      fail(here, "line longer than " + mib(limits_.max_line) + "; not " + std::string(limits_.document));
  }

  void start_line(std::size_t i) {
    const std::string_view rest = text_.substr(i);
    const std::size_t content = rest.find_first_not_of(" \t\r");
    const bool blank = content == std::string_view::npos || rest[content] == '\n';
    indent_ = static_cast<int>(std::min(rest.find_first_not_of(' '), rest.size()));
    if (state_ == State::block_scalar && !blank && indent_ <= block_indent_) state_ = State::plain;
    // Tabs may not indent; inside quoted text or block scalars they are content, and comments are free-form.
    if (state_ == State::plain && !blank && rest[content] != '#') {
      const std::size_t tab = rest.substr(0, content).find('\t');
      if (tab != std::string_view::npos)
        fail(Where{source_, line_, static_cast<int>(tab) + 1},
             "tab character in indentation (YAML indents with spaces only)");
    }
  }

  void end_line() {
    ++line_;
    column_ = 1;
    prev_ = 0;
    escaped_ = false;
    if (state_ == State::comment) state_ = block_next_ ? State::block_scalar : State::plain;
    block_next_ = false;
  }

  // Where a node may start: at the start of a line or after an indicator that introduces one.
  bool node_start() const {
    return prev_ == 0 || prev_ == '[' || prev_ == '{' || prev_ == ',' || prev_ == ':' || prev_ == '-' ||
           prev_ == '?';
  }

  void lex(char c, std::size_t i, const Where& here) {
    switch (state_) {
      case State::comment:
      case State::block_scalar: return;
      case State::single_quoted:
        if (c == '\'') {
          if (skip_quote_) skip_quote_ = false;  // the second half of ''
          else if (i + 1 < text_.size() && text_[i + 1] == '\'') skip_quote_ = true;  // '' is a quote inside
          else state_ = State::plain, prev_ = c;
        }
        return;
      case State::double_quoted:
        if (escaped_) escaped_ = false;
        else if (c == '\\') escaped_ = true;
        else if (c == '"') state_ = State::plain, prev_ = c;
        return;
      case State::plain: break;
    }
    if (c == ' ' || c == '\t' || c == '\r') return;
    const bool at_node = node_start();
    if (c == '#' && (column_ == 1 || text_[i - 1] == ' ' || text_[i - 1] == '\t')) {
      state_ = State::comment;
      return;
    }
    if (at_node && c == '\'') state_ = State::single_quoted;
    if (at_node && c == '"') state_ = State::double_quoted;
    if (at_node && (c == '[' || c == '{')) open_flow(i, here);
    if ((c == ']' || c == '}') && depth_ > 0) --depth_;
    if (at_node && depth_ == 0 && (c == '|' || c == '>') && block_header(i + 1)) {
      block_indent_ = indent_;
      block_next_ = true;
      state_ = State::comment;  // the rest of the header line
      return;
    }
    prev_ = c;
    if (depth_ > 0 && i - span_start_ > limits_.max_flow_span)
      fail(span_where_, "a flow collection ('[...]' or '{...}') longer than " + mib(limits_.max_flow_span) +
                            " (is a bracket left unclosed? write long lists in block style)");
  }

  void open_flow(std::size_t i, const Where& here) {
    if (++depth_ == 1) {
      span_start_ = i;
      span_where_ = here;
    }
    if (depth_ > limits_.max_flow_depth)
      fail(here, "nesting deeper than " + std::to_string(limits_.max_flow_depth) + " levels");
  }

  // `|`, `>`, `|-`, `>+2`, ... followed only by blanks or a comment.
  bool block_header(std::size_t i) const {
    while (i < text_.size() && (text_[i] == '+' || text_[i] == '-' || (text_[i] >= '0' && text_[i] <= '9'))) ++i;
    while (i < text_.size() && (text_[i] == ' ' || text_[i] == '\t')) ++i;
    return i == text_.size() || text_[i] == '\n' || text_[i] == '\r' || text_[i] == '#';
  }

  std::string_view text_;
  int source_;
  PrecheckLimits limits_;
  int line_ = 1;
  int column_ = 1;
  int indent_ = 0;
  State state_ = State::plain;
  char prev_ = 0;  // the last significant character on this line in plain text (0 at the line start)
  bool escaped_ = false;
  bool skip_quote_ = false;
  bool block_next_ = false;
  int block_indent_ = 0;
  int depth_ = 0;
  std::size_t span_start_ = 0;
  Where span_where_;
};

}  // namespace

void precheck(std::string_view text, int source, const PrecheckLimits& limits) {
  Prechecker(text, source, limits).run();
}

}  // namespace dmm::scenario::yaml
