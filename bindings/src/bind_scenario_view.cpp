// A loaded scenario as Python sees it: read-only, plain Python values (dicts, tuples, seconds), so that a
// notebook can look at what it is about to run and tests can check what the loader understood.
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "scenario/scenario.hpp"

namespace dmm::py_bindings {
namespace {

using namespace pybind11::literals;

const char* kind_name(scenario::WorkloadKind k) {
  switch (k) {
    case scenario::WorkloadKind::bulk: return "bulk";
    case scenario::WorkloadKind::request_response: return "request-response";
    case scenario::WorkloadKind::on_off: return "on-off";
    case scenario::WorkloadKind::command: return "command";
  }
  return "?";
}

const char* target_name(scenario::EventTarget t) {
  switch (t) {
    case scenario::EventTarget::link: return "link";
    case scenario::EventTarget::stack: return "stack";
    case scenario::EventTarget::nrd: return "nrd";
  }
  return "?";
}

py::tuple links(const scenario::Scenario& s) {
  py::list out;
  for (const auto& l : s.links) {
    out.append(py::dict("name"_a = l.name, "between"_a = py::make_tuple(l.a, l.b), "rate_mbps"_a = l.rate.value / 1e6,
                        "delay_ms"_a = to_millis(l.delay), "loss"_a = l.loss,
                        "queue_packets"_a = l.queue_packets));
  }
  return py::tuple(out);
}

py::tuple stacks(const scenario::Scenario& s) {
  py::list out;
  for (const auto& st : s.stacks) {
    out.append(py::dict("name"_a = st.name, "node"_a = st.node, "kind"_a = st.kind, "link"_a = st.link,
                        "tcp"_a = st.tcp, "processing_delay_ms"_a = to_millis(st.processing_delay),
                        "time_wait_ms"_a = st.time_wait ? py::object(py::float_(to_millis(*st.time_wait))) : py::none(),
                        "params"_a = st.params));
  }
  return py::tuple(out);
}

py::object nrd(const scenario::Scenario& s) {
  if (!s.nrd.enabled) return py::none();
  const auto& n = s.nrd;
  return py::dict("algorithm"_a = n.algorithm, "params"_a = n.params, "period_s"_a = to_seconds(n.period),
                  "sync_delay_s"_a = to_seconds(n.sync_delay), "probe_interval_s"_a = to_seconds(n.probe_interval));
}

Policy initial_policy(const scenario::Scenario& s) {
  Policy p;
  for (const auto& r : s.policy) p.rules.push_back(r.rule);
  p.reason = "scenario policy";
  return p;
}

// Every parameter the workload runs with, defaults filled in: the common ones, then its kind's own.
py::tuple workloads(const scenario::Scenario& s) {
  py::list out;
  for (const auto& w : s.workloads) {
    py::dict d("name"_a = w.name, "kind"_a = kind_name(w.kind), "from"_a = w.from, "to"_a = w.to, "port"_a = w.port,
               "proto"_a = std::string(to_string(w.proto)), "intent"_a = std::string(to_string(w.intent)),
               "start_s"_a = to_seconds(w.start), "stop_s"_a = to_seconds(w.stop.value_or(s.duration)),
               // Poisson arrivals per second, or None: `count` sessions back to back (on-off: cycles until stop)
               "rate_per_s"_a = w.rate ? py::object(py::float_(*w.rate)) : py::object(py::none()),
               "count"_a = w.rate ? py::object(py::none()) : py::object(py::int_(w.count)));
    switch (w.kind) {
      case scenario::WorkloadKind::bulk: d["size_bytes"] = w.size; break;
      case scenario::WorkloadKind::request_response:
        d["request_bytes"] = w.request;
        d["response_bytes"] = w.response;
        break;
      case scenario::WorkloadKind::on_off:
        d["on_s"] = to_seconds(w.on);
        d["off_s"] = to_seconds(w.off);
        d["send_rate_mbps"] = w.send_rate.value / 1e6;
        break;
      case scenario::WorkloadKind::command:
        d["run"] = w.command->run;
        d["serve"] = w.command->serve ? py::object(py::str(*w.command->serve)) : py::object(py::none());
        d["simulate_as"] = w.simulate_as ? py::object(py::str(kind_name(w.simulate_as->kind))) : py::object(py::none());
        break;
    }
    out.append(d);
  }
  return py::tuple(out);
}

py::tuple events(const scenario::Scenario& s) {
  py::list out;
  for (const auto& e : s.events) {
    out.append(py::dict("at_s"_a = to_seconds(e.at), "target"_a = target_name(e.target), "name"_a = e.name,
                        "action"_a = e.as_text));
  }
  return py::tuple(out);
}

}  // namespace

void bind_scenario_view(py::module_& m) {
  py::class_<scenario::Scenario>(m, "ScenarioView", "A validated scenario's contents (read-only).")
      .def_readonly("file", &scenario::Scenario::file)
      .def_readonly("name", &scenario::Scenario::name)
      .def_readonly("description", &scenario::Scenario::description)
      .def_readonly("seed", &scenario::Scenario::seed)
      .def_property_readonly("duration_s", [](const scenario::Scenario& s) { return to_seconds(s.duration); })
      .def_property_readonly("nodes", [](const scenario::Scenario& s) { return py::tuple(py::cast(s.nodes)); })
      .def_property_readonly("links", &links)
      .def_property_readonly("stacks", &stacks)
      .def_property_readonly("nrd", &nrd)
      .def_property_readonly("policy", &initial_policy)
      .def_property_readonly("workloads", &workloads)
      .def_property_readonly("events", &events)
      .def_property_readonly("expect", [](const scenario::Scenario& s) {
        py::list out;
        for (const auto& e : s.expect) out.append(e.as_text);
        return py::tuple(out);
      })
      .def_property_readonly("warnings", [](const scenario::Scenario& s) { return py::tuple(py::cast(s.warnings)); });
}

}  // namespace dmm::py_bindings
