#pragma once
// Policy algorithms written in Python, run by nRD inside the simulator.
//
// The simulation runs with the GIL released; each call into Python takes it for the duration of the call.
// A Python exception must not unwind through nRD and ns-3 (neither is written for it), so it is caught at the
// boundary, kept with its traceback in a PythonErrorSlot, and the simulation is stopped; the binding that
// started the run re-raises it once control is back in Python.
#include <pybind11/pybind11.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dmm/policy_algorithm.hpp"

namespace dmm::py_bindings {

namespace py = pybind11;

// The first Python error raised inside one load or run, and how to stop that run.
class PythonErrorSlot {
public:
  // Keeps `error` (the first one only) with `context` (what was being done, for the message) and stops the run.
  // The GIL must be held.
  void record(py::error_already_set error, std::string context);
  bool failed() const { return error_.has_value(); }
  bool interrupted() const;  // the error is a KeyboardInterrupt
  const std::string& context() const { return context_; }
  // Sets the Python error indicator to `type(message)` raised from the recorded error (its __cause__ carries the
  // original traceback). Requires failed() and the GIL.
  void raise_from(PyObject* type, const std::string& message);
  // Restores the recorded error itself as the Python error indicator. Requires failed() and the GIL.
  void restore();

  // How to stop the simulation that is running (set while one runs).
  void set_stop(std::function<void(Error)> stop) { stop_ = std::move(stop); }

private:
  std::optional<py::error_already_set> error_;
  std::string context_;
  std::function<void(Error)> stop_;
};

// A Python class usable as `nrd: {algorithm: NAME}`: calling `factory(**params)` makes an object with
// `decide(estimates, current)`; `defaults` are the accepted parameters, as for built-in algorithms.
struct PythonAlgorithmClass {
  std::string name;
  py::object factory;
  std::map<std::string, double> defaults;
};

// The built-in algorithms plus `classes`. Algorithms it makes report Python errors into `slot`.
AlgorithmRegistry registry_with(const std::vector<PythonAlgorithmClass>& classes,
                                const std::shared_ptr<PythonErrorSlot>& slot);

}  // namespace dmm::py_bindings
