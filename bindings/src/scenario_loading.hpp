#pragma once
// What loading a scenario from Python takes, shared by the simulation (bind_scenario.cpp) and emulation
// (bind_emulate.cpp) bindings: the module's error types, the input Python passes, the registries with the Python
// algorithms, and the rule of one run at a time per process.
#include <pybind11/pybind11.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dmm/policy_algorithm.hpp"
#include "dmm/stack_registry.hpp"
#include "model/simulation.hpp"
#include "python_algorithm.hpp"
#include "run/results_dir.hpp"
#include "scenario/scenario.hpp"

namespace dmm::py_bindings {

namespace py = pybind11;

struct ErrorTypes {
  py::object load_error;
  py::object run_error;
  py::object algorithm_error;
};

[[noreturn]] inline void raise(const py::object& type, const std::string& message) {
  PyErr_SetString(type.ptr(), message.c_str());
  throw py::error_already_set();
}

// What Python passes for each run: the scenario's text and where it came from, the edits, and the Python
// algorithms registered at the time.
struct LoadInput {
  std::string text;
  std::string file;
  std::vector<std::string> overrides;
  std::optional<std::uint64_t> seed;
  std::vector<PythonAlgorithmClass> algorithms;
};

struct Registries {
  std::shared_ptr<PythonErrorSlot> slot = std::make_shared<PythonErrorSlot>();
  StackRegistry stacks;
  AlgorithmRegistry algorithms;
  explicit Registries(const std::vector<PythonAlgorithmClass>& python)
      : algorithms(registry_with(python, slot)) {
    sim::register_sim_stack_kinds(stacks);
  }
};

inline scenario::LoadOptions options_for(const LoadInput& in, Registries& r) {
  scenario::LoadOptions o;
  o.overrides = in.overrides;
  o.seed = in.seed;
  o.registry = &r.stacks;
  o.algorithms = &r.algorithms;
  return o;
}

// A load succeeded, but the loader's check of the algorithm's parameters ran a Python constructor that raised:
// bad input at the `nrd:` section, caused by that exception.
inline void raise_if_algorithm_rejected(const ErrorTypes& errors, const scenario::Scenario& sc, PythonErrorSlot& slot) {
  if (!slot.failed()) return;
  slot.raise_from(errors.load_error.ptr(), sc.file + ":" + std::to_string(sc.nrd.mark.line) + ":" +
                                               std::to_string(sc.nrd.mark.column) + ": " + slot.context());
  throw py::error_already_set();
}

inline scenario::Scenario load_text_or_raise(const ErrorTypes& errors, const LoadInput& in, Registries& r) {
  auto sc = scenario::load_text(in.text, in.file, options_for(in, r));
  if (!sc) raise(errors.load_error, sc.error().message);
  raise_if_algorithm_rejected(errors, *sc, *r.slot);
  return std::move(*sc);
}

// One run per process: ns-3's simulator is process-wide, and an emulation's namespaces are named after the
// process. A second run while one is going (from another thread, or from inside a Python algorithm) is refused.
class OneRunAtATime {
public:
  explicit OneRunAtATime(const ErrorTypes& errors) {
    if (running().exchange(true)) {
      raise(errors.run_error, "another scenario is running in this process (one run at a time per process); "
                              "run several at once in separate processes: dmm.Campaign");
    }
  }
  ~OneRunAtATime() { running() = false; }
  OneRunAtATime(const OneRunAtATime&) = delete;
  OneRunAtATime& operator=(const OneRunAtATime&) = delete;

private:
  static std::atomic<bool>& running() {
    static std::atomic<bool> flag{false};  // mirrors ns-3's own process-wide state
    return flag;
  }
};


// What every run does first, in the simulator or on real stacks: load and check the scenario, then make sure the
// results directory can be written (found before the run, not after it, as dmm-sim does).
struct PreparedRun {
  std::unique_ptr<Registries> registries;
  scenario::Scenario scenario;
  bool made_out = false;  // prepare_results_dir created `out`: a run that then fails removes it again
};

inline PreparedRun prepare_run(const ErrorTypes& errors, LoadInput in, const std::filesystem::path& out) {
  PreparedRun p;
  p.registries = std::make_unique<Registries>(in.algorithms);
  p.scenario = load_text_or_raise(errors, in, *p.registries);
  const auto ready = sim::prepare_results_dir(out);
  if (!ready) raise(errors.run_error, ready.error().message);
  p.made_out = *ready;
  return p;
}

// The module's error types, as bind_scenario registered them.
inline ErrorTypes error_types_of(const py::module_& m) {
  return ErrorTypes{m.attr("LoadError"), m.attr("RunError"), m.attr("AlgorithmError")};
}

}  // namespace dmm::py_bindings
