// `events:` — scripted changes during the run: link settings, link down/up, stack failure, nRD stop/start.
#include "scenario/loader_sections.hpp"

namespace dmm::scenario::detail {
namespace {

// `down: true`, `fail: true`, ...: the key is the action, so only `true` means anything.
void require_true(const Field& f, std::string_view instead) {
  if (!read_bool(f)) f.fail("write `true` here (to undo it, use `" + std::string(instead) + ": true`)");
}

// Exactly one of `keys` is present; returns it. `what` names the choice for messages.
std::string_view one_of(const MapReader& m, std::initializer_list<std::string_view> keys, std::string_view what) {
  std::string_view found;
  std::string list;
  for (auto key : keys) {
    list += (list.empty() ? "" : ", ") + std::string(key);
    if (!m.has(key)) continue;
    if (!found.empty())
      yaml::fail(m.key_where(key), m.field().path + ": give only one " + std::string(what) + " (both '" +
                                       std::string(found) + "' and '" + std::string(key) + "')");
    found = key;
  }
  if (found.empty()) m.field().fail("missing " + std::string(what) + " (one of: " + list + ")");
  return found;
}

void load_link_event(const MapReader& m, const LoadContext& ctx, EventSpec& e) {
  m.allow({"at", "link", "set", "down", "up"}, " for a link event");
  e.target = EventTarget::link;
  e.name = read_link_ref(m.require("link"), ctx).name;
  const std::string_view action = one_of(m, {"set", "down", "up"}, "link action");
  if (action == "down" || action == "up") {
    require_true(m.require(action), action == "down" ? "up" : "down");
    e.down = action == "down";
    e.as_text = std::string(action);
    return;
  }
  const MapReader set(m.require("set"), "link settings ({rate, delay, loss})");
  set.allow({"rate", "delay", "loss"});
  if (set.field()->entries.empty()) set.field().fail("nothing to set (rate, delay or loss)");
  e.as_text = "set";
  for (const auto& entry : set.field()->entries) {
    const Field f = *set.get(entry.key);
    if (entry.key == "rate") e.rate = read_rate(f);
    if (entry.key == "delay") e.delay = read_duration(f);
    if (entry.key == "loss") e.loss = read_probability(f);
    e.as_text += " " + entry.key + "=" + f->text;
  }
}

void load_stack_event(const MapReader& m, const LoadContext& ctx, EventSpec& e) {
  m.allow({"at", "stack", "fail", "recover"}, " for a stack event");
  e.target = EventTarget::stack;
  e.name = read_stack_ref(m.require("stack"), ctx);
  const std::string_view action = one_of(m, {"fail", "recover"}, "stack action");
  require_true(m.require(action), action == "fail" ? "recover" : "fail");
  e.fail = action == "fail";
  e.as_text = std::string(action);
}

void load_nrd_event(const MapReader& m, const Scenario& s, EventSpec& e) {
  m.allow({"at", "nrd"}, " for an nrd event");
  e.target = EventTarget::nrd;
  const Field f = m.require("nrd");
  const std::string action = read_text(f);
  if (action != "stop" && action != "start") f.fail("unknown nrd action '" + action + "' (stop, start)");
  if (!s.nrd.enabled) f.fail("this scenario runs without nRD (no `nrd:` section or `enabled: false`)");
  e.nrd_running = action == "start";
  e.as_text = action;
}

EventSpec load_event(const Field& f, const LoadContext& ctx) {
  const Scenario& s = ctx.scenario;
  const MapReader m(f, "an event");
  EventSpec e;
  e.mark = Mark{f->where.line, f->where.column};
  const Field at = m.require("at");
  e.at = read_duration(at);
  if (e.at > s.duration)
    at.fail("at " + format_duration(e.at) + " is after the end of the run (" + format_duration(s.duration) + ")");
  const std::string_view target = one_of(m, {"link", "stack", "nrd"}, "event target");
  if (target == "link") load_link_event(m, ctx, e);
  else if (target == "stack") load_stack_event(m, ctx, e);
  else load_nrd_event(m, s, e);
  return e;
}

}  // namespace

void load_events(const MapReader& top, LoadContext& ctx) {
  const auto events = top.get("events");
  if (!events) return;
  for (const Field& item : events->items()) ctx.scenario.events.push_back(load_event(item, ctx));
}

}  // namespace dmm::scenario::detail
