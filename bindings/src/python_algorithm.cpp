#include "python_algorithm.hpp"

#include <pybind11/stl.h>

namespace dmm::py_bindings {
namespace {

std::string describe_python_error(const py::error_already_set& e) {
  // type name and message only: the traceback travels with the exception itself.
  std::string text = py::str(e.type().attr("__name__")).cast<std::string>();
  const std::string message = py::str(e.value()).cast<std::string>();
  return message.empty() ? text : text + ": " + message;
}

// Sets a Python exception of `type` and returns it fetched, ready for PythonErrorSlot::record.
py::error_already_set python_error(PyObject* type, const std::string& message) {
  PyErr_SetString(type, message.c_str());
  return py::error_already_set();
}

class PythonAlgorithm final : public PolicyAlgorithm {
public:
  // `instance` may be null when creating it failed: the error is in `slot` already, and decide keeps `current`.
  PythonAlgorithm(std::string name, py::object instance, std::shared_ptr<PythonErrorSlot> slot)
      : name_(std::move(name)), slot_(std::move(slot)) {
    if (instance) {
      decide_ = instance.attr("decide");
      instance_ = std::move(instance);
    }
  }

  ~PythonAlgorithm() override {
    // Dropping the last reference may run Python code (__del__): only with the GIL, which the simulation does
    // not hold while it is torn down.
    py::gil_scoped_acquire gil;
    decide_ = py::object();
    instance_ = py::object();
  }

  Policy decide(const StackEstimates& now, const Policy& current) override {
    if (slot_->failed() || !decide_) return current;  // the run is stopping: keep the policy in force
    py::gil_scoped_acquire gil;
    ++calls_;
    try {
      py::list estimates(now.size());
      for (std::size_t i = 0; i < now.size(); ++i) estimates[i] = py::cast(now[i]);
      const py::object result = decide_(estimates, py::cast(current));
      if (result.is_none()) return current;  // "keep", like returning `current` unchanged
      if (!py::isinstance<Policy>(result)) {
        throw python_error(PyExc_TypeError, "decide() returned " +
                                                py::str(py::type::handle_of(result).attr("__name__")).cast<std::string>() +
                                                ", expected a dmm.Policy (or None to keep the current one)");
      }
      Policy next = result.cast<Policy>();
      std::vector<StackId> known;
      for (const auto& e : now) known.push_back(e.stack);
      if (next.version < 1) next.version = 1;  // nRD numbers versions itself; do not reject a default of 0
      if (auto ok = validate(next, known); !ok) {
        throw python_error(PyExc_ValueError, "decide() returned an invalid policy: " + ok.error().message);
      }
      return next;
    } catch (py::error_already_set& e) {
      fail(std::move(e));
    } catch (const std::exception& e) {  // e.g. a conversion pybind11 could not make: still not nRD's problem
      fail(python_error(PyExc_RuntimeError, e.what()));
    }
    return current;
  }

private:
  void fail(py::error_already_set e) {
    const std::string what = describe_python_error(e);
    slot_->record(std::move(e), "algorithm '" + name_ + "' failed in decide() (call " + std::to_string(calls_) +
                                    "): " + what);
  }

  std::string name_;
  std::shared_ptr<PythonErrorSlot> slot_;
  py::object instance_;
  py::object decide_;
  std::uint64_t calls_ = 0;
};

}  // namespace

void PythonErrorSlot::record(py::error_already_set error, std::string context) {
  if (error_) return;
  error_.emplace(std::move(error));
  context_ = std::move(context);
  if (stop_) stop_(make_error(ECANCELED, context_));
}

bool PythonErrorSlot::interrupted() const { return error_ && error_->matches(PyExc_KeyboardInterrupt); }

void PythonErrorSlot::raise_from(PyObject* type, const std::string& message) {
  py::raise_from(*error_, type, message.c_str());
}

void PythonErrorSlot::restore() { error_->restore(); }

AlgorithmRegistry registry_with(const std::vector<PythonAlgorithmClass>& classes,
                                const std::shared_ptr<PythonErrorSlot>& slot) {
  AlgorithmRegistry registry = AlgorithmRegistry::with_builtins();
  for (const auto& c : classes) {
    // The registry may copy or drop its factories while the GIL is released: share the class through a
    // shared_ptr whose last owner takes the GIL to let go of it, instead of copying a py::object around.
    std::shared_ptr<py::object> cls(new py::object(c.factory), [](py::object* o) {
      py::gil_scoped_acquire gil;
      delete o;
    });
    auto factory = [name = c.name, cls, slot](const AlgorithmParams& params) -> std::unique_ptr<PolicyAlgorithm> {
      py::gil_scoped_acquire gil;
      try {
        py::dict kwargs;
        for (const auto& [key, value] : params) kwargs[py::str(key)] = value;
        return std::make_unique<PythonAlgorithm>(name, (*cls)(**kwargs), slot);
      } catch (py::error_already_set& e) {
        const std::string what = describe_python_error(e);
        slot->record(std::move(e), "algorithm '" + name + "' could not be created: " + what);
        return std::make_unique<PythonAlgorithm>(name, py::object(), slot);
      }
    };
    if (auto added = registry.add({c.name, c.defaults, std::move(factory)}); !added) {
      throw std::invalid_argument(added.error().message);
    }
  }
  return registry;
}

}  // namespace dmm::py_bindings
