// The built-in policy algorithms as Python objects, for unit experiments: feed them hand-made estimates and
// policies and look at what they decide, or call one from a Python algorithm and adjust its answer.
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "dmm/policy_algorithm.hpp"

namespace dmm::py_bindings {
namespace {

using namespace pybind11::literals;

class BuiltinAlgorithm {
public:
  BuiltinAlgorithm(std::string name, const AlgorithmParams& params) : name_(std::move(name)) {
    auto made = AlgorithmRegistry::with_builtins().create(name_, params);
    if (!made) throw std::invalid_argument(made.error().message);
    algorithm_ = std::move(made).value();
  }
  const std::string& name() const { return name_; }
  Policy decide(const StackEstimates& now, const Policy& current) { return algorithm_->decide(now, current); }

private:
  std::string name_;
  std::unique_ptr<PolicyAlgorithm> algorithm_;
};

}  // namespace

void bind_algorithms(py::module_& m) {
  py::class_<BuiltinAlgorithm>(m, "BuiltinAlgorithm", R"doc(
One of the C++ algorithms (`static`, `min-rtt`, `max-goodput`, `weighted`) as a Python object:
`BuiltinAlgorithm("min-rtt", {"hysteresis": 0.1})`. `decide(estimates, current)` returns the Policy it wants,
exactly as nRD would get it (before nRD adds its `down` list, version and time).
)doc")
      .def(py::init<std::string, const AlgorithmParams&>(), "name"_a, "params"_a = AlgorithmParams{})
      .def_property_readonly("name", &BuiltinAlgorithm::name)
      .def("decide", &BuiltinAlgorithm::decide, "estimates"_a, "current"_a);

  m.def("builtin_algorithms", [] {
    const AlgorithmRegistry registry = AlgorithmRegistry::with_builtins();
    std::map<std::string, std::map<std::string, double>> out;
    for (const auto& name : registry.names()) out[name] = registry.find(name)->defaults;
    return out;
  }, "Every built-in algorithm name with its parameters and their defaults.");
}

}  // namespace dmm::py_bindings
