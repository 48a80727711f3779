// Loading and running scenarios from Python, with the same loader, the same simulator and the same results
// directory as dmm-sim. Errors come back as the module's exception types, whose messages are dmm-sim's:
// LoadError (bad input, dmm-sim's exit 2: `FILE:LINE:COL: what is wrong` or `--set KEY: ...`), RunError (a
// runtime failure, exit 3) and AlgorithmError (a Python algorithm raised; its __cause__ is that exception,
// traceback included).
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>

#include "bindings.hpp"
#include "run/build_info.hpp"
#include "run/provenance.hpp"
#include "run/results_dir.hpp"
#include "model/simulation.hpp"
#include "python_algorithm.hpp"
#include "scenario_loading.hpp"
#include "scenario/scenario.hpp"

namespace dmm::py_bindings {
namespace {

using namespace pybind11::literals;

py::object new_exception(py::module_& m, const char* name, PyObject* base, const char* doc) {
  const std::string qualified = std::string("dmm._dmm.") + name;
  auto type = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base, nullptr));
  if (!type) throw py::error_already_set();
  m.attr(name) = type;
  return type;
}

struct Outcome {
  std::optional<Error> build_error;  // the scenario could not be built (bad input found by the simulator)
  std::optional<Result<sim::RunReport>> report;
};

// Builds and runs the simulation. Called without the GIL: Python is entered only by algorithms (which take it)
// and by the progress callback, which takes it to notice Ctrl-C.
Outcome simulate(const scenario::Scenario& sc, Registries& r, const std::filesystem::path& out, bool pcap) {
  auto sim = sim::Simulation::create(sc, r.stacks, pcap ? std::optional(out / "pcap") : std::nullopt, &r.algorithms);
  if (!sim) return {sim.error(), std::nullopt};
  if (r.slot->failed()) return {};  // a Python algorithm could not be created: do not start
  PythonErrorSlot& slot = *r.slot;
  slot.set_stop([s = sim->get()](Error why) { s->stop(std::move(why)); });
  // Wall time is measured here, as in dmm-sim: the simulation never reads the clock itself.
  const auto start = std::chrono::steady_clock::now();
  sim::RunOptions options;
  options.out_dir = out;
  options.wall_seconds = [start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  // Where and when, as dmm-sim records it (summary.json `invocation`); the command line is the interpreter's.
  options.invocation = sim::this_invocation(
      "python dmm", sim::utc_timestamp(std::chrono::duration_cast<std::chrono::seconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count()));
  options.on_progress = [&slot](double) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) slot.record(py::error_already_set(), "interrupted");
  };
  Outcome outcome{std::nullopt, (*sim)->run(options)};
  slot.set_stop(nullptr);
  sim->reset();  // tears ns-3 down here, still without the GIL
  return outcome;
}

py::dict report_dict(const sim::RunReport& r) {
  py::list expectations;
  for (const auto& e : r.expectations) {
    expectations.append(py::dict("text"_a = e.text, "passed"_a = e.passed, "detail"_a = e.detail));
  }
  return py::dict("sessions"_a = r.sessions, "completed"_a = r.completed, "failed"_a = r.failed,
                  "unfinished"_a = r.unfinished, "policy_versions"_a = r.policy_versions,
                  "sim_events"_a = r.timing.sim_events, "wall_s"_a = r.timing.wall_s, "expectations"_a = expectations,
                  "passed"_a = r.all_passed());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

void bind_scenario(py::module_& m) {
  const sim::BuildInfo& build = sim::build_info();
  m.attr("__version__") = build.version;
  m.def(
      "build_info",
      [] {
        const sim::BuildInfo& b = sim::build_info();
        return py::dict("version"_a = b.version,
                        "git_commit"_a = b.git_commit.empty() ? py::object(py::none()) : py::object(py::str(b.git_commit)),
                        "git_dirty"_a = b.git_dirty, "ns3_version"_a = b.ns3_version);
      },
      "What this build is: version, git_commit (None outside a checkout), git_dirty, ns3_version.");

  ErrorTypes errors{
      new_exception(m, "LoadError", PyExc_ValueError, "Bad scenario input; the message is FILE:LINE:COL: what."),
      new_exception(m, "RunError", PyExc_RuntimeError, "The run failed at run time (dmm-sim's exit code 3)."),
      new_exception(m, "AlgorithmError", PyExc_RuntimeError,
                    "A Python policy algorithm raised; the run stopped. __cause__ is the original exception."),
  };

  py::class_<PythonAlgorithmClass>(m, "AlgorithmClass",
                                   "A Python algorithm as the loader sees it: name, factory(**params), defaults.")
      .def(py::init<std::string, py::object, std::map<std::string, double>>(), "name"_a, "factory"_a, "defaults"_a)
      .def_readonly("name", &PythonAlgorithmClass::name);

  m.def(
      "load_file",
      [errors](const std::string& path, std::vector<std::string> overrides, std::optional<std::uint64_t> seed,
               std::vector<PythonAlgorithmClass> algorithms) {
        LoadInput in{{}, path, std::move(overrides), seed, std::move(algorithms)};
        Registries r(in.algorithms);
        // load_file, not load_text: the same checks and messages as dmm-sim for unreadable or oversized files.
        auto sc = scenario::load_file(path, options_for(in, r));
        if (!sc) raise(errors.load_error, sc.error().message);
        raise_if_algorithm_rejected(errors, *sc, *r.slot);
        return py::make_tuple(std::move(*sc), py::bytes(read_file(path)));
      },
      "path"_a, "overrides"_a, "seed"_a, "algorithms"_a,
      "Loads and checks a scenario file; returns (ScenarioView, the file's bytes). Raises LoadError.");

  m.def(
      "load_text",
      [errors](std::string text, std::string file, std::vector<std::string> overrides,
               std::optional<std::uint64_t> seed, std::vector<PythonAlgorithmClass> algorithms) {
        LoadInput in{std::move(text), std::move(file), std::move(overrides), seed, std::move(algorithms)};
        Registries r(in.algorithms);
        return load_text_or_raise(errors, in, r);
      },
      "text"_a, "file"_a, "overrides"_a, "seed"_a, "algorithms"_a,
      "Loads and checks scenario text; `file` names it in messages and anchors relative plug-in paths.");

  m.def(
      "run",
      [errors](std::string text, std::string file, std::vector<std::string> overrides,
               std::optional<std::uint64_t> seed, std::vector<PythonAlgorithmClass> algorithms,
               const std::filesystem::path& out, bool pcap) {
        OneRunAtATime guard(errors);
        PreparedRun prepared = prepare_run(
            errors, {std::move(text), std::move(file), std::move(overrides), seed, std::move(algorithms)}, out);
        const scenario::Scenario& sc = prepared.scenario;
        Registries& r = *prepared.registries;
        Outcome outcome;
        {
          py::gil_scoped_release nogil;
          outcome = simulate(sc, r, out, pcap);
        }
        // A run that did not finish writes nothing, not even the directory made for it.
        if (!outcome.report || !*outcome.report) sim::remove_if_unused(out, prepared.made_out);
        PythonErrorSlot& slot = *r.slot;
        if (slot.interrupted()) {
          slot.restore();  // KeyboardInterrupt stays what it is
          throw py::error_already_set();
        }
        if (slot.failed()) {
          slot.raise_from(errors.algorithm_error.ptr(), slot.context() + "; the run stopped, no results written");
          throw py::error_already_set();
        }
        if (outcome.build_error) raise(errors.load_error, outcome.build_error->message);
        if (!*outcome.report) raise(errors.run_error, outcome.report->error().message);
        return report_dict(outcome.report->value());
      },
      "text"_a, "file"_a, "overrides"_a, "seed"_a, "algorithms"_a, "out"_a, "pcap"_a = false,
      "Loads, runs and writes the results directory `out`, like dmm-sim. Returns the run's report as a dict.");
}

}  // namespace dmm::py_bindings
