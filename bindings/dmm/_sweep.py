"""Parameter sweeps: one scenario, every combination of some override values and seeds, run in parallel
processes (ns-3's simulator is one per process), gathered into one DataFrame."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import re
import traceback
import warnings
from typing import Any, Iterable, Mapping, Optional

import pandas as pd

from ._results import Results
from .analysis import completion
from ._scenario import Scenario, override_strings, yaml_value
from .errors import AlgorithmError, Error, RunError, ScenarioError

SEED = "seed"


class WorkerTraceback(Exception):
    """The traceback of an exception raised in a sweep's worker process, as text (tracebacks do not cross
    processes); attached as `__cause__` of the error the sweep raises."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n\n" + self.text


def sweep(scenario: Scenario, grid: Mapping[str, Iterable[Any]], processes: Optional[int] = None,
          out: Optional[str] = None) -> pd.DataFrame:
    """Run `scenario` once for every combination of the values in `grid`; returns one row per run.

    grid: `{"nrd.period": ["250ms", "1s"], "seed": range(5)}`. Keys are `--set` override keys (as for
    `Scenario.run`) or "seed"; the runs are the Cartesian product, first key varying slowest.
    processes: parallel worker processes (default: the number of CPUs, at most one per run). Each run gets a
    fresh fork of this process, so Python algorithms defined here (in a notebook too) are available there.
    `processes=1` runs everything in this process, one after the other (same results).
    out: a directory to keep every run's results in (`out/<index>-<key=value,...>/`); None = temporary.

    Every combination is checked before anything runs: a bad value raises ScenarioError naming it. A run that
    fails raises AlgorithmError/RunError naming its combination (the other runs are abandoned).

    Columns: one per grid key, then `sessions`, `completed`, `failed`, `unfinished`, `policy_versions`, `passed`
    (all expectations), `median_completion_s`, `unfinished_share`, `failed_share`, `goodput_mbps` (all stacks),
    `delivered_mbps`, `share:<stack>` per stack, and `results` (that run's dmm.Results: sessions, metrics,
    policies, events, plots). `dmm.sweep_sessions(frame)` gives every run's sessions in one frame.

    Deprecated: `dmm.Campaign` does this and more — runs stored once and found again, resumable, on Dask (one
    machine or a cluster), failed runs stored instead of stopping the others, means with confidence intervals.

    `median_completion_s` counts every session (dmm.analysis.completion): unfinished ones are censored at their
    age, failed ones never complete (Kaplan–Meier); it is inf when half the sessions never completed — so an
    algorithm cannot look fast by leaving its slow sessions unfinished. Read it with `unfinished_share` and
    `failed_share` beside it. `delivered_mbps` (and its older name `goodput_mbps`) is bytes delivered / duration.
    """
    warnings.warn("dmm.sweep is deprecated: dmm.Campaign stores each run once, resumes, and runs on Dask "
                  "(see help(dmm.Campaign))", DeprecationWarning, stacklevel=2)
    keys = list(grid)
    if not keys:
        raise ValueError("the sweep grid is empty: give at least one key with values")
    values = []
    for key in keys:
        items = grid[key]
        if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
            raise TypeError(f"sweep grid[{key!r}] must be a list of values, not {items!r}")
        items = list(items)
        if not items:
            raise ValueError(f"sweep grid[{key!r}] has no values")
        values.append(items)
    points = [dict(zip(keys, combination)) for combination in itertools.product(*values)]

    jobs = []
    for index, point in enumerate(points):
        overrides = {k: v for k, v in point.items() if k != SEED}
        try:
            checked = scenario.with_overrides(overrides, seed=point.get(SEED))
        except ScenarioError as err:
            err.add_note(f"in sweep run {index}: {_describe(point)}")
            raise
        directory = os.path.join(out, f"{index:03d}-{_slug(point)}") if out else None
        jobs.append((index, checked, directory))

    processes = min(processes or os.cpu_count() or 1, len(jobs))
    if processes < 1:
        raise ValueError("processes must be at least 1")
    if processes == 1:
        outcomes = map(_run_job, jobs)
        return _frame(keys, points, [_unwrap(o, points) for o in outcomes])
    # fork, not spawn: the worker must see the Python algorithms this process defined (a notebook's classes
    # cannot be imported by a fresh interpreter). One run per worker: each starts from this process' state.
    context = multiprocessing.get_context("fork")
    with context.Pool(processes, maxtasksperchild=1) as pool:
        results = [_unwrap(outcome, points) for outcome in pool.imap(_run_job, jobs)]
    return _frame(keys, points, results)


def sweep_sessions(frame: pd.DataFrame) -> pd.DataFrame:
    """Every run's sessions from a sweep frame, in one DataFrame, with the run's grid values as first columns."""
    grid = [c for c in frame.columns if c not in _RUN_COLUMNS and not c.startswith("share:")]
    parts = []
    for _, row in frame.iterrows():
        sessions = row["results"].sessions.copy()
        for position, key in enumerate(grid):
            sessions.insert(position, key, [row[key]] * len(sessions))
        parts.append(sessions)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


# --- inside the workers -------------------------------------------------------------------------------------

def _run_job(job):
    index, scenario, directory = job
    try:
        return index, "ok", scenario.run(out=directory)
    except Error as err:
        cause = err.__cause__
        text = "".join(traceback.format_exception(cause)) if cause is not None else ""
        return index, type(err).__name__, (str(err), getattr(err, "algorithm", None), text)


def _unwrap(outcome, points) -> Results:
    index, kind, payload = outcome
    if kind == "ok":
        return payload
    message, algorithm, text = payload
    message = f"sweep run {index} ({_describe(points[index])}): {message}"
    if kind == "AlgorithmError":
        error = AlgorithmError(message, algorithm=algorithm)
    elif kind == "ScenarioError":
        error = ScenarioError(message)
    else:
        error = RunError(message)
    raise error from (WorkerTraceback(text) if text else None)


# --- the frame ----------------------------------------------------------------------------------------------

_RUN_COLUMNS = ["sessions", "completed", "failed", "unfinished", "policy_versions", "passed", "median_completion_s",
                "unfinished_share", "failed_share", "goodput_mbps", "delivered_mbps", "results"]


def run_figures(run: Results) -> dict[str, Any]:
    """One run's summary figures, as a sweep row or a campaign row has them (without the `results` object)."""
    counts = run.summary.get("sessions", {})
    stats = completion.completion_stats(run.sessions, run.duration_s)
    stacks = run.summary.get("stacks", [])
    delivered = float(sum(s.get("delivered_mbps", s.get("goodput_mbps", 0.0)) for s in stacks))
    row = dict(sessions=counts.get("total"), completed=counts.get("completed"), failed=counts.get("failed"),
               unfinished=counts.get("unfinished"), policy_versions=run.summary.get("policy_versions"),
               passed=run.passed, median_completion_s=stats.median_s, unfinished_share=stats.unfinished_share,
               failed_share=stats.failed_share, goodput_mbps=delivered, delivered_mbps=delivered)
    for s in stacks:
        row[f"share:{s['stack']}"] = s.get("share")
    return row


def _frame(keys, points, results) -> pd.DataFrame:
    rows = []
    for point, run in zip(points, results):
        row = dict(point)
        row.update(run_figures(run))
        row["results"] = run
        rows.append(row)
    frame = pd.DataFrame(rows)
    # `results` last, whatever stacks the runs had
    frame = frame[[c for c in frame.columns if c != "results"] + ["results"]]
    frame.attrs["grid"] = list(keys)  # which columns are settings (compare_runs.from_sweep groups by them)
    return frame


def _describe(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={yaml_value(value)}" for key, value in point.items())


def _slug(point: Mapping[str, Any]) -> str:
    return re.sub(r"[^A-Za-z0-9_.=,-]+", "_", ",".join(f"{k}={yaml_value(v)}" for k, v in point.items()))[:120]


__all__ = ["sweep", "sweep_sessions", "run_figures", "WorkerTraceback", "override_strings"]
