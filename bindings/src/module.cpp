// `dmm._dmm`: the compiled half of the `dmm` Python package. The package (bindings/dmm/) wraps it in the
// Python-facing API; this module stays a thin layer over libdmm_core and libdmm_sim.
#include "bindings.hpp"

PYBIND11_MODULE(_dmm, m) {
  m.doc() = "Compiled core of the dmm package: policies, orchestrator, algorithms, scenario loading and runs. "
            "Use it through `import dmm`.";
  dmm::py_bindings::bind_policy(m);
  dmm::py_bindings::bind_orchestrator(m);
  dmm::py_bindings::bind_algorithms(m);
  dmm::py_bindings::bind_scenario_view(m);
  dmm::py_bindings::bind_scenario(m);
  dmm::py_bindings::bind_emulate(m);
}
