"""dmm.sweep: every combination of a grid, run in worker processes, gathered into one DataFrame whose runs are
the same as running each combination by hand."""

from __future__ import annotations

import os

import pandas as pd
import pytest

import dmm
from dmm._sweep import WorkerTraceback
from dmm.analysis import completion

GRID = {"nrd.period": ["250ms", "1s"], "seed": range(2)}


def test_sweep_runs_every_combination_in_worker_processes(quickstart, tmp_path):
    frame = dmm.sweep(quickstart, GRID, processes=2, out=str(tmp_path))
    assert list(frame[["nrd.period", "seed"]].itertuples(index=False, name=None)) == [
        ("250ms", 0), ("250ms", 1), ("1s", 0), ("1s", 1)]
    for column in ["sessions", "completed", "failed", "unfinished", "policy_versions", "passed",
                   "median_completion_s", "unfinished_share", "failed_share", "goodput_mbps", "delivered_mbps",
                   "share:fast", "share:slow", "results"]:
        assert column in frame.columns
    assert frame.columns[-1] == "results" and frame.attrs["grid"] == ["nrd.period", "seed"]
    assert (frame["share:fast"] + frame["share:slow"]).round(9).eq(1).all()
    assert len(os.listdir(tmp_path)) == 4 and os.path.isdir(tmp_path / "000-nrd.period=250ms,seed=0")
    # Each row is exactly the run one would get by hand.
    by_hand = quickstart.run(seed=1, overrides={"nrd.period": "1s"})
    row = frame.iloc[3]
    pd.testing.assert_frame_equal(row["results"].sessions, by_hand.sessions)
    assert row["sessions"] == len(by_hand.sessions)
    assert row["policy_versions"] == len(by_hand.policies)
    # The median counts every session (unfinished censored, failed never complete), and says how many there were.
    stats = completion.completion_stats(by_hand.sessions, by_hand.duration_s)
    assert row["median_completion_s"] == stats.median_s
    assert row["unfinished_share"] == stats.unfinished_share == row["unfinished"] / row["sessions"]
    assert row["delivered_mbps"] == row["goodput_mbps"] == sum(s["delivered_mbps"] for s in by_hand.summary["stacks"])


def test_one_process_gives_the_same_frame(quickstart):
    parallel = dmm.sweep(quickstart, GRID, processes=2)
    serial = dmm.sweep(quickstart, GRID, processes=1)
    columns = [c for c in parallel.columns if c != "results"]
    pd.testing.assert_frame_equal(parallel[columns], serial[columns])
    for a, b in zip(parallel.results, serial.results):
        pd.testing.assert_frame_equal(a.metrics, b.metrics)


def test_workers_see_python_algorithms_defined_here(quickstart):
    class AlwaysSlow(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            return current.reorder(lambda stack: stack != "slow")

    frame = dmm.sweep(quickstart, {"nrd.algorithm": ["min-rtt", "python:AlwaysSlow"], "nrd.params": [{}],
                                   "seed": [1]}, processes=2)
    # min-rtt with no hysteresis parameter given uses its default: same decisions as the scenario's 0.2
    assert frame["share:slow"].iloc[1] > 0.9 > frame["share:slow"].iloc[0]
    sessions = dmm.sweep_sessions(frame)
    assert list(sessions.columns[:3]) == ["nrd.algorithm", "nrd.params", "seed"]
    assert len(sessions) == frame.sessions.sum()


def test_every_combination_is_checked_before_anything_runs(quickstart):
    with pytest.raises(dmm.ScenarioError) as info:
        dmm.sweep(quickstart, {"nrd.period": ["250ms", "soon"]}, processes=2)
    assert info.value.override == "nrd.period"
    assert "sweep run 1: nrd.period=soon" in "".join(info.value.__notes__)


def test_a_failing_run_names_its_combination(quickstart):
    class FailsOnSeed1(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            raise LookupError("seed one is cursed")

    with pytest.raises(dmm.AlgorithmError) as info:
        dmm.sweep(quickstart, {"nrd.algorithm": ["python:FailsOnSeed1"], "nrd.params": [{}], "seed": [0]},
                  processes=2)
    err = info.value
    assert "sweep run 0" in str(err) and "seed=0" in str(err) and err.algorithm == "python:FailsOnSeed1"
    assert isinstance(err.__cause__, WorkerTraceback)
    assert "LookupError: seed one is cursed" in err.__cause__.text and "in decide" in err.__cause__.text


def test_bad_grids_are_refused(quickstart):
    with pytest.raises(ValueError, match="empty"):
        dmm.sweep(quickstart, {})
    with pytest.raises(TypeError, match="list of values"):
        dmm.sweep(quickstart, {"nrd.period": "250ms"})
    with pytest.raises(ValueError, match="no values"):
        dmm.sweep(quickstart, {"seed": []})


def test_sweep_says_it_is_deprecated_in_favour_of_campaigns(quickstart):
    with pytest.deprecated_call(match="dmm.Campaign"):
        with pytest.raises(ValueError, match="empty"):
            dmm.sweep(quickstart, {})
