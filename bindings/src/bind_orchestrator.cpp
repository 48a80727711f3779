// The orchestrator for unit experiments: build a Policy in Python, `select()` sessions against it, apply new
// versions and local health marks, and look at the counters — the same object the simulator and the preload
// shim use.
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "conversions.hpp"
#include "dmm/orchestrator.hpp"

namespace dmm::py_bindings {
namespace {

using namespace pybind11::literals;

// Choice with names instead of the orchestrator's stack indices, so that it means something on its own.
struct NamedChoice {
  std::string stack;
  std::int32_t rule = -1;
  PolicyVersion version = 0;
  bool all_unhealthy = false;
  std::vector<std::string> ranked;
};

NamedChoice named(const Orchestrator& o, const Choice& c) {
  NamedChoice out{o.stack_name(c.stack), c.rule, c.version, c.all_unhealthy, {}};
  for (std::size_t i = 0; i < c.ranked_count; ++i) out.ranked.push_back(o.stack_name(c.ranked[i]));
  return out;
}

StackIndex index_of(const Orchestrator& o, const std::string& stack) {
  if (auto i = o.index_of(stack)) return *i;
  throw py::key_error("unknown stack '" + stack + "' (stacks: " + joined(o.stacks()) + ")");
}

NamedChoice select(const Orchestrator& o, const SessionRequest& r) {
  auto c = o.select(r);
  if (!c) {
    PyErr_SetString(PyExc_LookupError, (c.error().message + " for " + r.dst.to_string()).c_str());
    throw py::error_already_set();
  }
  return named(o, *c);
}

}  // namespace

void bind_orchestrator(py::module_& m) {
  py::class_<NamedChoice>(m, "Choice", R"doc(
The orchestrator's answer for one session: `stack` (the first healthy stack of the deciding rule), `rule`
(its index), `version` (of the policy that decided), `all_unhealthy` (every stack of the rule is down;
`stack` is a last resort) and `ranked` (the fallback order nSocket would try).
)doc")
      .def_readonly("stack", &NamedChoice::stack)
      .def_readonly("rule", &NamedChoice::rule)
      .def_readonly("version", &NamedChoice::version)
      .def_readonly("all_unhealthy", &NamedChoice::all_unhealthy)
      .def_property_readonly("ranked", [](const NamedChoice& c) { return py::tuple(py::cast(c.ranked)); })
      .def("__repr__", [](const NamedChoice& c) {
        return "Choice(stack=" + c.stack + ", rule=" + std::to_string(c.rule) + ", version=" +
               std::to_string(c.version) + (c.all_unhealthy ? ", all_unhealthy=True" : "") + ")";
      });

  py::class_<Orchestrator>(m, "Orchestrator", R"doc(
The local policy table of one node: `Orchestrator(["fast", "slow"], policy)`.

`select(request)` returns the Choice for a SessionRequest (or `select(dst, port, proto=, intent=)`), and
raises LookupError when no rule matches. `apply(policy)` installs a newer, well-formed version and raises
ValueError otherwise (the current policy stays in force, and `counters` counts the rejection).
`set_local_health(stack, healthy)` marks a stack as locally failed or recovered.
)doc")
      .def(py::init<std::vector<StackId>, const Policy&>(), "stacks"_a, "policy"_a)
      .def("select", &select, "request"_a)
      .def("select",
           [](const Orchestrator& o, const std::string& dst, std::uint16_t port, const std::string& proto,
              const std::string& intent) {
             return select(o, SessionRequest{Endpoint{address_from(dst), port}, proto_from(proto), intent_from(intent)});
           },
           "dst"_a, "port"_a, py::kw_only(), "proto"_a = "tcp", "intent"_a = "default")
      .def("apply", [](Orchestrator& o, const Policy& p) { throw_if_error(o.apply(p)); }, "policy"_a)
      .def("set_local_health",
           [](Orchestrator& o, const std::string& stack, bool healthy) { o.set_local_health(index_of(o, stack), healthy); },
           "stack"_a, "healthy"_a)
      .def_property_readonly("version", &Orchestrator::version)
      .def_property_readonly("policy", [](const Orchestrator& o) { return *o.policy(); })
      .def_property_readonly("stacks", [](const Orchestrator& o) { return py::tuple(py::cast(o.stacks())); })
      .def_property_readonly("counters", [](const Orchestrator& o) {
        const auto c = o.counters();
        py::dict d;
        d["applied"] = c.applied;
        d["rejected_stale"] = c.rejected_stale;
        d["rejected_invalid"] = c.rejected_invalid;
        return d;
      });
}

}  // namespace dmm::py_bindings
