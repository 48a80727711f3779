// `expect:` — the scenario's answer: assertions over the recorded sessions and policies.
#include <array>

#include "scenario/loader_sections.hpp"

namespace dmm::scenario::detail {
namespace {

constexpr std::array<std::string_view, 7> kAssertions{
    "share_at_least",    "share_at_most",          "completed",
    "completed_at_least", "sessions_at_least", "policy_changes_at_most", "median_completion_at_most"};

void read_between(const Field& f, const Scenario& s, ExpectSpec& e) {
  const auto ends = f.items();
  if (ends.size() != 2) f.fail("expected [FROM, TO], e.g. [12s, 20s]");
  e.from = read_duration(ends[0]);
  e.to = read_duration(ends[1]);
  if (*e.from >= *e.to) ends[1].fail("the window must end after it starts (" + format_duration(*e.from) + ")");
  if (*e.to > s.duration)
    ends[1].fail(format_duration(*e.to) + " is after the end of the run (" + format_duration(s.duration) + ")");
}

ExpectSpec load_one(const Field& f, const LoadContext& ctx) {
  const Scenario& s = ctx.scenario;
  const MapReader m(f, "an expectation");
  std::vector<std::string> allowed{"between", "workload", "stack"};
  allowed.insert(allowed.end(), kAssertions.begin(), kAssertions.end());
  m.allow(allowed);
  ExpectSpec e;
  e.mark = Mark{f->where.line, f->where.column};
  if (auto b = m.get("between")) read_between(*b, s, e);
  if (auto w = m.get("workload")) e.workload = read_workload_ref(*w, ctx).name;
  if (auto st = m.get("stack")) e.stack = read_stack_ref(*st, ctx);
  bool asserts = false;
  for (auto key : kAssertions) asserts = asserts || m.has(key);
  if (!asserts) {
    std::string list;
    for (auto key : kAssertions) list += (list.empty() ? "" : ", ") + std::string(key);
    f.fail("asserts nothing (add one of: " + list + ")");
  }
  for (auto key : {"share_at_least", "share_at_most"}) {
    auto share = m.get(key);
    if (!share) continue;
    if (!e.stack) yaml::fail(m.key_where(key), f.path + ": " + key + " needs `stack:` (whose share?)");
    (std::string_view(key) == "share_at_least" ? e.share_at_least : e.share_at_most) = read_probability(*share);
  }
  if (auto c = m.get("completed")) e.completed = read_bool(*c);
  if (auto c = m.get("completed_at_least")) e.completed_at_least = read_probability(*c);
  if (auto n = m.get("sessions_at_least")) e.sessions_at_least = read_uint(*n, 0, UINT64_MAX);
  if (auto n = m.get("policy_changes_at_most")) e.policy_changes_at_most = read_uint(*n, 0, UINT64_MAX);
  if (auto d = m.get("median_completion_at_most")) e.median_completion_at_most = read_duration(*d);
  e.as_text = yaml::to_flow(*f);
  return e;
}

}  // namespace

void load_expect(const MapReader& top, LoadContext& ctx) {
  const auto expect = top.get("expect");
  if (!expect) return;
  for (const Field& item : expect->items()) ctx.scenario.expect.push_back(load_one(item, ctx));
}

}  // namespace dmm::scenario::detail
