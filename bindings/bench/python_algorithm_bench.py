#!/usr/bin/python3
"""What a policy algorithm written in Python costs against the same algorithm in C++, on a whole scenario.

    PYTHONPATH=build/python /usr/bin/python3 bindings/bench/python_algorithm_bench.py [SCENARIO] [--repeat N]

Runs SCENARIO (default scenarios/many-flows.yaml) with its C++ algorithm (`min-rtt` or `weighted`) and with the
line-by-line Python port of it from dmm.examples, alternately, N times each (default 3), in this process, and
prints the wall time of every run, the medians and their ratio (Python / C++). It first checks that both make
exactly the same decisions (identical sessions.csv, metrics.csv and policy.jsonl): otherwise the two runs would
not simulate the same thing and the ratio would mean nothing (exit 1). A separate run with a timer inside
`decide` gives the time spent in Python per decision. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import sys
import tempfile
import time

import dmm
import dmm.examples

PORTS = {"min-rtt": "python:MinRtt", "weighted": "python:Weighted"}
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def version_line(tool: str) -> str:
    """As dmm-sim --version prints it: the dmm module this runs (its version, git commit, ns-3's version)."""
    info = dmm.build_info()
    commit = f"git {info['git_commit'][:12]}{', modified' if info['git_dirty'] else ''}; " if info["git_commit"] else ""
    return f"{tool} {info['version']} ({commit}ns-3 {info['ns3_version']})"


def timed_run(scenario, overrides, out=None):
    start = time.perf_counter()
    results = scenario.run(overrides=overrides, out=out)
    return time.perf_counter() - start, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="?", default=os.path.join(ROOT, "scenarios", "many-flows.yaml"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--version", action="version", version=version_line("python_algorithm_bench.py"))
    args = parser.parse_args()

    scenario = dmm.load_scenario(args.scenario)
    algorithm = scenario.nrd["algorithm"] if scenario.nrd else None
    if algorithm not in PORTS:
        print(f"{args.scenario}: its algorithm is {algorithm!r}; this benchmark has Python ports of "
              f"{', '.join(PORTS)}", file=sys.stderr)
        return 2
    python = {"nrd.algorithm": PORTS[algorithm]}

    with tempfile.TemporaryDirectory() as tmp:
        _, cpp_results = timed_run(scenario, {}, os.path.join(tmp, "cpp"))
        timed_run(scenario, python, os.path.join(tmp, "py"))
        for name in ["sessions.csv", "metrics.csv", "policy.jsonl"]:
            if not filecmp.cmp(os.path.join(tmp, "cpp", name), os.path.join(tmp, "py", name), shallow=False):
                print(f"{name} differs: the Python port did not decide like {algorithm}", file=sys.stderr)
                return 1
    decisions = cpp_results.metrics.time_s.nunique()

    walls = {"C++": [], "Python": []}
    for _ in range(args.repeat):
        walls["C++"].append(timed_run(scenario, {})[0])
        walls["Python"].append(timed_run(scenario, python)[0])

    # Time inside the Python decide itself (the rest of the difference is crossing into Python and back), and
    # keep what it was given, to time both implementations on exactly those inputs afterwards.
    port = dmm.examples.MinRtt if algorithm == "min-rtt" else dmm.examples.Weighted
    inside, inputs = [], []

    class Timed(port):
        name = "bench-timed"

        def decide(self, estimates, current):
            inputs.append((list(estimates), current))
            start = time.perf_counter()
            try:
                return super().decide(estimates, current)
            finally:
                inside.append(time.perf_counter() - start)

    timed_run(scenario, {"nrd.algorithm": "python:bench-timed"})
    params = dict(scenario.nrd["params"])
    per_decision = {}
    for label, implementation in [("C++", dmm.BuiltinAlgorithm(algorithm, params)), ("Python", port(**params))]:
        start = time.perf_counter()
        for _ in range(20):
            for estimates, current in inputs:
                implementation.decide(estimates, current)
        per_decision[label] = (time.perf_counter() - start) / (20 * len(inputs))

    cpp, py = statistics.median(walls["C++"]), statistics.median(walls["Python"])
    print(f"scenario {scenario.name}: {scenario.duration_s:g} s simulated, {len(cpp_results.sessions)} sessions, "
          f"{decisions} nRD decisions per run; same decisions in C++ and Python: yes")
    for label, values in walls.items():
        print(f"  {label:7} {algorithm:9} wall s: " + "  ".join(f"{v:.3f}" for v in values) +
              f"   (median {statistics.median(values):.3f})")
    print(f"  ratio Python / C++ (medians): {py / cpp:.3f}")
    print(f"  inside Python decide: {statistics.mean(inside) * 1e6:.1f} us per decision "
          f"({sum(inside) * 1e3:.2f} ms per run, {sum(inside) / cpp * 100:.3f} % of the C++ run's wall time)")
    print(f"  one decision on the run's own inputs, called from Python: C++ {per_decision['C++'] * 1e6:.1f} us "
          f"(conversions included), Python {per_decision['Python'] * 1e6:.1f} us: ratio "
          f"{per_decision['Python'] / per_decision['C++']:.1f}")
    print(f"  difference of medians per decision: {(py - cpp) / decisions * 1e6:.0f} us (noise dominates when the "
          f"ratio is near 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
