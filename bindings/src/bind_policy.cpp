// Policies as Python values: Match, Rule, Policy, plus the inputs of decisions (StackEstimate, SessionRequest).
// They are immutable from Python (sequences come back as tuples; `replace` makes changed copies), so that an
// algorithm cannot half-edit the policy it was handed, and `rule.use.append(x)` fails loudly instead of
// silently editing a temporary copy.
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>

#include "bindings.hpp"
#include "conversions.hpp"
#include "dmm/policy.hpp"
#include "dmm/policy_algorithm.hpp"

namespace dmm::py_bindings {
namespace {

using namespace pybind11::literals;

py::tuple to_tuple(const std::vector<std::string>& items) {
  py::tuple out(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) out[i] = py::str(items[i]);
  return out;
}

std::optional<PortRange> ports_from(const py::object& port) {
  if (port.is_none()) return std::nullopt;
  auto in_range = [](long long p) {
    if (p < 1 || p > 65535) throw std::invalid_argument("port " + std::to_string(p) + " is not in 1..65535");
    return static_cast<std::uint16_t>(p);
  };
  if (py::isinstance<py::int_>(port)) {
    const auto p = in_range(port.cast<long long>());
    return PortRange{p, p};
  }
  if (py::isinstance<py::tuple>(port) || py::isinstance<py::list>(port)) {
    const auto pair = port.cast<std::vector<long long>>();
    if (pair.size() != 2) throw std::invalid_argument("a port range is (first, last)");
    PortRange r{in_range(pair[0]), in_range(pair[1])};
    if (r.first > r.last) throw std::invalid_argument("port range " + std::to_string(r.first) + "-" +
                                                      std::to_string(r.last) + " is backwards");
    return r;
  }
  throw std::invalid_argument("port must be an int, (first, last) or None");
}

Match make_match(const std::optional<std::string>& dst, const py::object& port, const std::optional<std::string>& proto,
                 const std::optional<std::string>& intent) {
  Match m;
  if (dst) m.dst = prefix_from(*dst);
  m.ports = ports_from(port);
  if (proto) m.proto = proto_from(*proto);
  if (intent) m.intent = intent_from(*intent);
  return m;
}

std::string rule_repr(const Rule& r) {
  return "Rule(" + describe(r.match) + " -> [" + py_bindings::joined(r.use) + "], race=" + std::string(to_string(r.race)) +
         ", attempt_delay=" + format_attempt_delay(r.attempt_delay) + ")";
}

RaceMode race_from(const std::string& text) {
  auto mode = parse_race_mode(text);
  if (!mode) throw std::invalid_argument("unknown race '" + text + "' (staggered, failover, simultaneous)");
  return *mode;
}

AttemptDelay attempt_delay_from(const std::string& text) {
  auto delay = parse_attempt_delay(text);
  if (!delay) throw std::invalid_argument("attempt_delay " + delay.error().message);
  return *delay;
}

bool same_policy(const Policy& a, const Policy& b) {
  return a.version == b.version && a.rules == b.rules && a.down == b.down && a.time == b.time && a.reason == b.reason;
}

// A copy of `p` with each rule's `use` list stably sorted by key(stack).
Policy reordered(const Policy& p, const py::function& key) {
  Policy out = p;
  for (Rule& rule : out.rules) {
    std::vector<std::pair<py::object, StackId>> keyed;
    for (const auto& id : rule.use) keyed.emplace_back(key(id), id);
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
      const int less = PyObject_RichCompareBool(a.first.ptr(), b.first.ptr(), Py_LT);
      if (less < 0) throw py::error_already_set();
      return less == 1;
    });
    for (std::size_t i = 0; i < keyed.size(); ++i) rule.use[i] = keyed[i].second;
  }
  return out;
}

void bind_estimate(py::module_& m) {
  py::class_<StackEstimate>(m, "StackEstimate", R"doc(
nRD's view of one stack instance at a decision: what a PolicyAlgorithm's `decide` receives, one per stack.

Attributes (read-only): `stack` (instance name), `rtt_ms` (smoothed RTT, None before the first sample),
`goodput_mbps` (smoothed delivery rate, None before the first sample), `capacity_mbps` (highest rate a backlogged
sender reached within nRD's capacity window, a lower bound on the path's capacity; None without one),
`loss` (smoothed retransmit fraction),
`failures` (consecutive failures), `healthy`, `last_sample_s` (simulated time of the last sample).
Build one yourself to try an algorithm outside a simulation: `StackEstimate("fast", rtt_ms=12.5)`.
)doc")
      .def(py::init([](std::string stack, std::optional<double> rtt_ms, std::optional<double> goodput_mbps,
                       double loss, std::uint32_t failures, bool healthy, double last_sample_s,
                       std::optional<double> capacity_mbps) {
             StackEstimate e;
             e.stack = std::move(stack);
             if (rtt_ms) {
               if (!(*rtt_ms >= 0)) throw std::invalid_argument("rtt_ms must not be negative");
               e.has_rtt = true;
               e.rtt = from_seconds(*rtt_ms / 1e3);
             }
             if (goodput_mbps) {
               if (!(*goodput_mbps >= 0)) throw std::invalid_argument("goodput_mbps must not be negative");
               e.has_goodput = true;
               e.goodput.value = *goodput_mbps * 1e6;
             }
             if (capacity_mbps) {
               if (!(*capacity_mbps >= 0)) throw std::invalid_argument("capacity_mbps must not be negative");
               e.has_capacity = true;
               e.capacity.value = *capacity_mbps * 1e6;
             }
             if (!(loss >= 0 && loss <= 1)) throw std::invalid_argument("loss must be in [0, 1]");
             e.loss = loss;
             e.failures = failures;
             e.healthy = healthy;
             e.last_sample = from_seconds(last_sample_s);
             return e;
           }),
           "stack"_a, py::kw_only(), "rtt_ms"_a = py::none(), "goodput_mbps"_a = py::none(), "loss"_a = 0.0,
           "failures"_a = 0, "healthy"_a = true, "last_sample_s"_a = 0.0, "capacity_mbps"_a = py::none())
      .def_property_readonly("stack", [](const StackEstimate& e) { return e.stack; })
      .def_property_readonly("rtt_ms",
                             [](const StackEstimate& e) { return e.has_rtt ? std::optional(to_millis(e.rtt)) : std::nullopt; })
      .def_property_readonly("goodput_mbps", [](const StackEstimate& e) {
        return e.has_goodput ? std::optional(e.goodput.value / 1e6) : std::nullopt;
      })
      .def_property_readonly("capacity_mbps", [](const StackEstimate& e) {
        return e.has_capacity ? std::optional(e.capacity.value / 1e6) : std::nullopt;
      })
      .def_property_readonly("loss", [](const StackEstimate& e) { return e.loss; })
      .def_property_readonly("failures", [](const StackEstimate& e) { return e.failures; })
      .def_property_readonly("healthy", [](const StackEstimate& e) { return e.healthy; })
      .def_property_readonly("last_sample_s", [](const StackEstimate& e) { return to_seconds(e.last_sample); })
      .def("__repr__", [](const StackEstimate& e) {
        auto number = [](bool has, double v) { return has ? py::repr(py::float_(v)).cast<std::string>() : "None"; };
        return "StackEstimate(" + py::repr(py::str(e.stack)).cast<std::string>() +
               ", rtt_ms=" + number(e.has_rtt, to_millis(e.rtt)) +
               ", goodput_mbps=" + number(e.has_goodput, e.goodput.value / 1e6) +
               ", capacity_mbps=" + number(e.has_capacity, e.capacity.value / 1e6) +
               ", loss=" + number(true, e.loss) + ", failures=" + std::to_string(e.failures) +
               ", healthy=" + (e.healthy ? "True" : "False") + ")";
      });
}

void bind_match_and_rule(py::module_& m) {
  py::class_<Match>(m, "Match", R"doc(
What a rule matches; every field left out (None) matches everything.

`Match(dst="10.255.0.2", port=80, proto="tcp", intent="latency")`. `dst` is an IPv4/IPv6 prefix or address (in
simulations node `i` is known as 10.255.0.(i+1)); `port` an int or a (first, last) range; `proto` "tcp" or
"udp"; `intent` "default", "latency", "throughput" or "bulk".
)doc")
      .def(py::init(&make_match), py::kw_only(), "dst"_a = py::none(), "port"_a = py::none(), "proto"_a = py::none(),
           "intent"_a = py::none())
      .def_property_readonly("dst", [](const Match& x) { return x.dst ? std::optional(x.dst->to_string()) : std::nullopt; })
      .def_property_readonly("ports", [](const Match& x) -> py::object {
        if (!x.ports) return py::none();
        return py::make_tuple(x.ports->first, x.ports->last);
      })
      .def_property_readonly("proto", [](const Match& x) {
        return x.proto ? std::optional(std::string(to_string(*x.proto))) : std::nullopt;
      })
      .def_property_readonly("intent", [](const Match& x) {
        return x.intent ? std::optional(std::string(to_string(*x.intent))) : std::nullopt;
      })
      .def("matches", &Match::matches, "request"_a, "True when a session asking for `request` fits this match.")
      .def("__eq__", [](const Match& a, const Match& b) { return a == b; }, py::is_operator())
      .def("__repr__", [](const Match& x) { return "Match(" + describe(x) + ")"; });

  py::class_<Rule>(m, "Rule", R"doc(
One policy rule: a Match and the ranked stack instances (`use`) that may carry the sessions it matches; the
first healthy one wins. How nSocket tries them: `race` "staggered" (the default: the next stack starts when the
previous attempt has not connected after `attempt_delay`; the first to connect wins), "failover" (only after a
failure) or "simultaneous"; `attempt_delay` "auto" (the default: twice nRD's RTT estimate of the stack waited on,
within 100ms..2s; 250ms without one) or a duration such as "250ms" (10ms..10s).
`Rule(Match(intent="latency"), ["fast", "slow"], race="failover")`; `rule.replace(use=[...])` makes a changed copy.
)doc")
      .def(py::init([](std::optional<Match> match, std::vector<std::string> use, const std::string& race,
                       const std::string& attempt_delay) {
             Rule rule{match.value_or(Match{}), std::move(use)};
             rule.race = race_from(race);
             rule.attempt_delay = attempt_delay_from(attempt_delay);
             return rule;
           }),
           "match"_a, "use"_a, py::kw_only(), "race"_a = "staggered", "attempt_delay"_a = "auto")
      .def_property_readonly("match", [](const Rule& r) { return r.match; })
      .def_property_readonly("use", [](const Rule& r) { return to_tuple(r.use); })
      .def_property_readonly("race", [](const Rule& r) { return std::string(to_string(r.race)); })
      .def_property_readonly("attempt_delay", [](const Rule& r) { return format_attempt_delay(r.attempt_delay); })
      .def("replace", [](const Rule& r, std::optional<Match> match, std::optional<std::vector<std::string>> use,
                         std::optional<std::string> race, std::optional<std::string> attempt_delay) {
             Rule out = r;
             if (match) out.match = *match;
             if (use) out.use = std::move(*use);
             if (race) out.race = race_from(*race);
             if (attempt_delay) out.attempt_delay = attempt_delay_from(*attempt_delay);
             return out;
           },
           py::kw_only(), "match"_a = py::none(), "use"_a = py::none(), "race"_a = py::none(),
           "attempt_delay"_a = py::none(), "A copy with the given fields changed.")
      .def("__eq__", [](const Rule& a, const Rule& b) { return a == b; }, py::is_operator())
      .def("__repr__", &rule_repr);
}

void bind_policy_class(py::module_& m) {
  py::class_<Policy>(m, "Policy", R"doc(
An ordered rule list (the first rule that matches a session decides) plus the stacks nRD considers down.

`Policy([Rule(Match(intent="latency"), ["fast", "slow"]), Rule(None, ["slow", "fast"])])`. Immutable:
`replace(rules=..., down=..., reason=...)` and `reorder(key)` return changed copies. A PolicyAlgorithm returns
one from `decide`; nRD fills in `version`, `time_s` and (unless set) `reason`, and overrides `down` with its
own health findings.
)doc")
      .def(py::init([](std::vector<Rule> rules, std::vector<std::string> down, PolicyVersion version,
                       std::string reason, double time_s) {
             Policy p;
             p.rules = std::move(rules);
             p.down = std::move(down);
             p.version = version;
             p.reason = std::move(reason);
             p.time = from_seconds(time_s);
             return p;
           }),
           "rules"_a, py::kw_only(), "down"_a = std::vector<std::string>{}, "version"_a = 1, "reason"_a = "",
           "time_s"_a = 0.0)
      .def_property_readonly("rules", [](const Policy& p) { return py::tuple(py::cast(p.rules)); })
      .def_property_readonly("down", [](const Policy& p) { return to_tuple(p.down); })
      .def_property_readonly("version", [](const Policy& p) { return p.version; })
      .def_property_readonly("reason", [](const Policy& p) { return p.reason; })
      .def_property_readonly("time_s", [](const Policy& p) { return to_seconds(p.time); })
      .def("replace",
           [](const Policy& p, std::optional<std::vector<Rule>> rules, std::optional<std::vector<std::string>> down,
              std::optional<std::string> reason, std::optional<PolicyVersion> version) {
             Policy out = p;
             if (rules) out.rules = std::move(*rules);
             if (down) out.down = std::move(*down);
             if (reason) out.reason = std::move(*reason);
             if (version) out.version = *version;
             return out;
           },
           py::kw_only(), "rules"_a = py::none(), "down"_a = py::none(), "reason"_a = py::none(),
           "version"_a = py::none(), "A copy with the given fields changed.")
      .def("reorder", &reordered, "key"_a, R"doc(
A copy in which every rule's `use` list is stably sorted by `key(stack_name)` (smallest first), e.g.
`current.reorder(lambda s: rtt.get(s, float("inf")))`.
)doc")
      .def("same_decisions", &same_decisions, "other"_a,
           "True when both have the same rules and down-set (version, time and reason aside): nRD publishes a new "
           "policy only when this is False.")
      .def("validate", [](const Policy& p, const std::vector<std::string>& stacks) { throw_if_error(validate(p, stacks)); },
           "stacks"_a, "Raises ValueError (naming the rule) unless the policy is well-formed for these stack names.")
      .def("to_json", &to_json_line, "The policy as one line of policy.jsonl.")
      .def("__eq__", &same_policy, py::is_operator())
      .def("__repr__", [](const Policy& p) {
        std::string rules;
        for (const auto& r : p.rules) rules += (rules.empty() ? "" : ", ") + rule_repr(r);
        return "Policy(version=" + std::to_string(p.version) + ", rules=[" + rules + "], down=[" +
               py_bindings::joined(p.down) + "])";
      });
}

void bind_request(py::module_& m) {
  py::class_<SessionRequest>(m, "SessionRequest", R"doc(
What a new session asks for: destination address and port, L4 protocol and intent.
`SessionRequest("10.255.0.2", 80, intent="latency")`.
)doc")
      .def(py::init([](const std::string& dst, std::uint16_t port, const std::string& proto, const std::string& intent) {
             return SessionRequest{Endpoint{address_from(dst), port}, proto_from(proto), intent_from(intent)};
           }),
           "dst"_a, "port"_a, py::kw_only(), "proto"_a = "tcp", "intent"_a = "default")
      .def_property_readonly("dst", [](const SessionRequest& r) { return r.dst.address.to_string(); })
      .def_property_readonly("port", [](const SessionRequest& r) { return r.dst.port; })
      .def_property_readonly("proto", [](const SessionRequest& r) { return std::string(to_string(r.proto)); })
      .def_property_readonly("intent", [](const SessionRequest& r) { return std::string(to_string(r.intent)); })
      .def("__repr__", [](const SessionRequest& r) {
        return "SessionRequest(" + r.dst.to_string() + ", proto=" + std::string(to_string(r.proto)) +
               ", intent=" + std::string(to_string(r.intent)) + ")";
      });
}

}  // namespace

void bind_policy(py::module_& m) {
  bind_estimate(m);
  bind_match_and_rule(m);
  bind_policy_class(m);
  bind_request(m);
}

}  // namespace dmm::py_bindings
