#pragma once
// The pieces of the `_dmm` extension module, one function per area; module.cpp calls them in order (types a
// later one uses are registered by an earlier one).
#include <pybind11/pybind11.h>

namespace dmm::py_bindings {

namespace py = pybind11;

void bind_policy(py::module_& m);        // Match, Rule, Policy, StackEstimate, SessionRequest
void bind_orchestrator(py::module_& m);  // Orchestrator, Choice
void bind_algorithms(py::module_& m);    // built-in algorithms as callable objects
void bind_scenario_view(py::module_& m);  // a loaded scenario, read-only
void bind_scenario(py::module_& m);      // load and run scenarios, Python-defined algorithms in the simulator
void bind_emulate(py::module_& m);       // run scenarios on real stacks (needs bind_scenario's error types)

}  // namespace dmm::py_bindings
