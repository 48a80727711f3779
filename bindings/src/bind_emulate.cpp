// Running a scenario on real stacks from Python (dmm-emu's run, DESIGN.md §2.6), so that Python-defined policy
// algorithms — which live in the interpreter — run in emulation too. Same loader, same results directory and
// emu.json as dmm-emu; root is needed, as for dmm-emu.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <chrono>
#include <cstdlib>

#include "bindings.hpp"
#include "emu_run.hpp"
#include "run/provenance.hpp"
#include "run/results_dir.hpp"
#include "scenario_loading.hpp"

namespace dmm::py_bindings {
namespace {

using namespace pybind11::literals;

// dmm-linkemu: $DMM_LINKEMU, else the one built with this module.
std::string linkemu_path() {
  const char* from_env = std::getenv("DMM_LINKEMU");
  return from_env ? from_env : DMM_LINKEMU_PATH;
}

// dmm-run (command workloads' programs): $DMM_RUN, else the one built with this module.
std::string dmm_run_path() {
  const char* from_env = std::getenv("DMM_RUN");
  return from_env ? from_env : DMM_RUN_PATH;
}

py::dict emu_report_dict(const emu::EmuReport& r) {
  py::list expectations;
  for (const auto& e : r.expectations)
    expectations.append(py::dict("text"_a = e.text, "passed"_a = e.passed, "detail"_a = e.detail));
  return py::dict("sessions"_a = r.sessions, "completed"_a = r.completed, "failed"_a = r.failed,
                  "unfinished"_a = r.unfinished, "policy_versions"_a = r.policy_versions, "wall_s"_a = r.wall_s,
                  "expectations"_a = expectations, "passed"_a = r.all_passed(), "valid"_a = r.valid,
                  "invalid_because"_a = r.invalid_because, "notes"_a = r.notes);
}

}  // namespace

void bind_emulate(py::module_& m) {
  const ErrorTypes errors = error_types_of(m);
  m.def(
      "emulate",
      [errors](std::string text, std::string file, std::vector<std::string> overrides,
               std::optional<std::uint64_t> seed, std::vector<PythonAlgorithmClass> algorithms,
               const std::filesystem::path& out, bool pcap) {
        OneRunAtATime guard(errors);
        PreparedRun prepared = prepare_run(
            errors, {std::move(text), std::move(file), std::move(overrides), seed, std::move(algorithms)}, out);
        const scenario::Scenario& sc = prepared.scenario;
        Registries& r = *prepared.registries;
        PythonErrorSlot& slot = *r.slot;
        emu::EmuOptions options;
        options.out_dir = out;
        options.linkemu = linkemu_path();
        options.dmm_run = dmm_run_path();
        options.pcap = pcap;
        options.algorithms = &r.algorithms;
        options.plugin_kinds = &r.stacks;  // with the scenario's `plugins:` loaded
        options.invocation = sim::this_invocation(
            "python dmm", sim::utc_timestamp(std::chrono::duration_cast<std::chrono::seconds>(
                                                 std::chrono::system_clock::now().time_since_epoch())
                                                 .count()));
        // Ctrl-C arrives on the run's signal fd (the run blocks SIGINT while it goes); an algorithm that raised
        // is in the slot: either stops the run with partial results.
        options.should_stop = [&slot] {
          py::gil_scoped_acquire gil;
          return slot.failed();
        };
        Result<emu::EmuReport> report = make_error(EIO, "not run");
        {
          py::gil_scoped_release nogil;
          report = emu::run_emulation(sc, options);
        }
        if (!report) sim::remove_if_unused(out, prepared.made_out);
        if (slot.failed()) {
          slot.raise_from(errors.algorithm_error.ptr(), slot.context() + "; the run stopped, partial results in " +
                                                            out.string());
          throw py::error_already_set();
        }
        if (!report) {
          if (report.error().code == EINVAL || report.error().code == EPERM) raise(errors.load_error, report.error().message);
          raise(errors.run_error, report.error().message);
        }
        if (report->interrupted_at_s) {
          PyErr_SetString(PyExc_KeyboardInterrupt, ("emulation interrupted; partial results in " + out.string()).c_str());
          throw py::error_already_set();
        }
        return emu_report_dict(*report);
      },
      "text"_a, "file"_a, "overrides"_a, "seed"_a, "algorithms"_a, "out"_a, "pcap"_a = false,
      "Loads, runs on real stacks and writes the results directory `out` (with emu.json), like dmm-emu. Needs root. "
      "Returns the run's report as a dict; `valid` is emu.json's verdict.");
}

}  // namespace dmm::py_bindings
