"""DMM from Python: run scenarios, read results as pandas DataFrames, sweep parameters, and write policy
algorithms in Python that the simulator runs in place of the C++ ones.

    import dmm
    scenario = dmm.load_scenario("scenarios/quickstart.yaml")      # same checks and messages as dmm-sim
    results = scenario.run(seed=2, overrides={"nrd.period": "250ms"})
    results.sessions.groupby("stack").size()                       # sessions, metrics, policies, events
    dmm.run_scenario("scenarios/failover.yaml", seed=3, out="results/failover")   # = dmm-sim ... --out

    class PreferSlow(dmm.PolicyAlgorithm):                         # registered as "python:PreferSlow"
        def decide(self, estimates, current):
            return current.reorder(lambda stack: 0 if stack == "slow" else 1)

    scenario.run(overrides={"nrd.algorithm": "python:PreferSlow"})
    dmm.sweep(scenario, {"nrd.algorithm": ["min-rtt", "python:PreferSlow"], "seed": range(3)}, processes=2)
    campaign = dmm.Campaign("results/study", scenario="scenarios/quickstart.yaml",   # stored, resumable, on Dask
                            grid={"nrd.algorithm": ["min-rtt", "python:PreferSlow"]}, seeds=range(5))
    campaign.run()                                                 # only the runs not stored yet

Policies for unit experiments: `dmm.Policy`, `dmm.Rule`, `dmm.Match`, `dmm.Orchestrator(...).select(...)`,
`dmm.StackEstimate`, `dmm.BuiltinAlgorithm("min-rtt").decide(...)`; `dmm.examples` has Python ports of min-rtt
and weighted. Plots: `results.plot()`,
`dmm.analysis.compare_runs`; censored completion statistics: `dmm.analysis.completion`; simulation against
emulation: `dmm.compare(sim_dir, emu_dirs)` (dmm-compare's figures and verdict). Errors:
`dmm.ScenarioError`, `dmm.RunError`, `dmm.AlgorithmError`. Version: `dmm.__version__`, `dmm.build_info()`.
"""

from ._dmm import (BuiltinAlgorithm, Choice, Match, Orchestrator, Policy, Rule, SessionRequest,  # noqa: F401
                   StackEstimate, build_info)
from ._dmm import __version__  # noqa: F401  the project's version; build_info() adds the git commit and ns-3's
from ._algorithms import (PolicyAlgorithm, algorithms, register_algorithm,  # noqa: F401
                          unregister_algorithm)
from ._campaign import Campaign, CampaignError, CampaignRunError  # noqa: F401
from ._compare import compare  # noqa: F401
from ._results import Results  # noqa: F401
from ._scenario import Scenario, load_scenario, run_emulation, run_scenario  # noqa: F401
from ._sweep import sweep, sweep_sessions  # noqa: F401
from .errors import AlgorithmError, Error, RunError, ScenarioError  # noqa: F401


def __getattr__(name: str):
    # `dmm.examples` without `import dmm.examples` (as the README writes it), loaded on first use: importing it
    # registers its algorithms, which a plain `import dmm` must not do.
    if name == "examples":
        import importlib

        return importlib.import_module(".examples", __name__)
    raise AttributeError(f"module 'dmm' has no attribute {name!r}")


def load_results(path: str) -> Results:
    """Read a results directory written by dmm-sim (or `Scenario.run(out=...)`) as dmm.Results."""
    return Results.read(path)


__all__ = [
    "AlgorithmError", "BuiltinAlgorithm", "Choice", "build_info", "compare", "Error", "Match", "Orchestrator", "Policy",
    "PolicyAlgorithm",
    "Results", "Rule", "RunError", "Scenario", "ScenarioError", "SessionRequest", "StackEstimate", "algorithms",
    "load_results", "load_scenario", "register_algorithm", "run_emulation", "run_scenario", "sweep", "sweep_sessions",
    "unregister_algorithm",
]
