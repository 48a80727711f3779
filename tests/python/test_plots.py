"""The analysis scripts on real runs: plot_run.py and compare_runs.py, as scripts and as functions, each
writing non-empty PNGs."""

from __future__ import annotations

import os
import subprocess

import matplotlib.figure
import pytest

import dmm
from conftest import ROOT
from dmm.analysis import compare_runs

PYTHON = "/usr/bin/python3"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCRIPTS = os.path.join(ROOT, "analysis")


def assert_pngs(directory, names):
    for name in names:
        path = os.path.join(directory, name)
        with open(path, "rb") as handle:
            data = handle.read()
        assert data.startswith(PNG_SIGNATURE), path
        assert len(data) > 10_000, f"{path}: {len(data)} bytes, too small to hold a plot"


def script(name, *args):
    env = dict(os.environ, MPLBACKEND="")  # the scripts choose their backend themselves
    return subprocess.run([PYTHON, os.path.join(SCRIPTS, name), *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """quickstart with min-rtt and with a Python algorithm that prefers `slow`, results kept on disk."""
    class SlowFirst(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            return current.reorder(lambda stack: stack != "slow")

    base = tmp_path_factory.mktemp("runs")
    scenario = dmm.load_scenario(os.path.join(ROOT, "scenarios", "quickstart.yaml"))
    scenario.run(out=base / "min-rtt")
    scenario.run(out=base / "slow-first", overrides={"nrd.algorithm": "python:SlowFirst", "nrd.params": {}})
    return base


def test_plot_run_script_on_a_python_run(two_runs, tmp_path):
    done = script("plot_run.py", two_runs / "slow-first", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    names = ["goodput.png", "session_share.png", "nrd_estimates.png", "completion_cdf.png"]
    assert sorted(os.path.basename(p) for p in done.stdout.split()) == sorted(names)
    assert_pngs(tmp_path, names)


def test_results_plot(two_runs):
    results = dmm.load_results(str(two_runs / "min-rtt"))
    written = results.plot()
    assert len(written) == 4 and all(p.startswith(str(two_runs / "min-rtt" / "plots")) for p in written)
    assert_pngs(two_runs / "min-rtt" / "plots", [os.path.basename(p) for p in written])


def test_compare_runs_script(two_runs, tmp_path):
    done = script("compare_runs.py", two_runs / "min-rtt", two_runs / "slow-first", "--label", "min-rtt",
                  "--label", "slow first", "--workload", "rpc", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    names = ["goodput_cdf.png", "completion_cdf.png", "switch_times.png"]
    assert sorted(os.path.basename(p) for p in done.stdout.split()) == sorted(names)
    assert_pngs(tmp_path, names)


def test_compare_runs_script_usage_errors(two_runs, tmp_path):
    assert script("compare_runs.py", tmp_path / "missing").returncode == 2
    assert script("compare_runs.py", two_runs / "min-rtt", "--label", "a", "--label", "b").returncode == 2
    assert script("compare_runs.py").returncode == 2


def test_compare_runs_functions_on_a_sweep(quickstart, tmp_path):
    class SlowFirst(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            return current.reorder(lambda stack: stack != "slow")

    frame = dmm.sweep(quickstart, {"nrd.algorithm": ["min-rtt", "python:SlowFirst"], "nrd.params": [{}],
                                   "seed": [1, 2]}, processes=2)
    groups = compare_runs.from_sweep(frame, by="nrd.algorithm")
    assert list(groups) == ["min-rtt", "python:SlowFirst"] and all(len(runs) == 2 for runs in groups.values())
    default = compare_runs.from_sweep(frame)  # the grid keys that vary, but not the seed
    assert {label: len(runs) for label, runs in default.items()} == {"min-rtt": 2, "python:SlowFirst": 2}
    for figure in [compare_runs.goodput_cdf(groups), compare_runs.completion_cdf(groups, workload="rpc"),
                   compare_runs.switch_times_figure(groups)]:
        assert isinstance(figure, matplotlib.figure.Figure)
    # min-rtt switches once, when wan-a degrades at 10 s; the Python algorithm at its first decision.
    assert [list(compare_runs.switch_times(run)) for run in groups["min-rtt"]] == [[10.5], [10.5]]
    assert all(list(compare_runs.switch_times(run)) == [0.5] for run in groups["python:SlowFirst"])
    written = compare_runs.plot_all(groups, str(tmp_path))
    assert_pngs(tmp_path, [os.path.basename(p) for p in written])
    assert len(written) == 3


def test_compare_runs_skips_plots_without_data(two_runs, tmp_path):
    groups = compare_runs.from_dirs([str(two_runs / "min-rtt")])
    assert compare_runs.goodput_cdf(groups, workload="no-such-workload") is None
    written = compare_runs.plot_all(groups, str(tmp_path), workload="no-such-workload")
    assert [os.path.basename(p) for p in written] == ["switch_times.png"]


def test_scripts_report_a_failure_without_a_traceback(capsys, monkeypatch):
    from dmm.analysis import plot_run

    monkeypatch.delenv("DMM_DEBUG", raising=False)
    assert plot_run.draw_and_report(lambda: 1 / 0) == 3
    assert "failed: ZeroDivisionError" in capsys.readouterr().err
    assert plot_run.draw_and_report(lambda: ["a.png"]) == 0
    assert capsys.readouterr().out == "a.png\n"
    monkeypatch.setenv("DMM_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        plot_run.draw_and_report(lambda: 1 / 0)
