"""Completion-time statistics that count every session (DESIGN.md §2.2: unfinished and failed sessions are
censored, never silently dropped).

Every session has one of three outcomes (`outcomes(sessions)`):
  completed   it finished; its completion time is end_s - start_s
  unfinished  still open when the run ended (empty end_s): right-censored at its age, run end - start_s. All we
              know is that it would have taken at least that long.
  failed      it ended without completing (refused, reset, closed early, a UDP session none of whose datagrams
              arrived): it never completes. It stays in the denominator at every time (censored at infinity).

`P(completion time <= t)` is estimated with Kaplan–Meier's product-limit estimator over all sessions in scope.
Without unfinished sessions it is exactly the fraction of *all* sessions that completed within t (failed ones
included in the denominator); an unfinished session counts fully until its age and then leaves the estimate,
instead of being dropped (which makes an algorithm that leaves slow sessions running look fast) or counted as a
failure (which punishes the sessions that simply started shortly before the end). The median is the first t at
which the estimate reaches 0.5; when it never does (half or more of the sessions failed, or are still running
past every observed completion) it is infinite: "not reached". `within(deadline)` is the estimate at `deadline`.

    from completion import completion_stats
    stats = completion_stats(run.sessions, run.duration_s)          # or [(sessions, duration_s), ...] pooled
    stats.median_s, stats.within(0.2), stats.unfinished_share, stats.describe()
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence, Tuple, Union

import numpy as np
import pandas as pd

COMPLETED, UNFINISHED, FAILED = "completed", "unfinished", "failed"
UNFINISHED_ERROR = "unfinished at end of run"  # sessions.csv's `error` of a session open at the end (sim)
METHOD = "Kaplan–Meier: unfinished censored at their age, failed never complete"
_TOLERANCE = 1e-12


def outcomes(sessions: pd.DataFrame) -> pd.Series:
    """'completed', 'unfinished' or 'failed' per session. Unfinished: not completed and either marked so in
    `error` or without an end time (results written before end_s was left empty still say so in `error`)."""
    completed = sessions["completed"].astype(bool)
    error = sessions["error"] if "error" in sessions else pd.Series(np.nan, index=sessions.index)
    open_at_end = (error == UNFINISHED_ERROR) | sessions["end_s"].isna()
    return pd.Series(np.where(completed, COMPLETED, np.where(open_at_end, UNFINISHED, FAILED)),
                     index=sessions.index, dtype=object)


@dataclass
class CompletionStats:
    """Completion-time estimate over `n` sessions: `times` (seconds, increasing) and `cdf` (the estimated
    fraction of all sessions completed by each time; a step function, 0 before the first time)."""

    times: np.ndarray
    cdf: np.ndarray
    n: int
    completed: int
    unfinished: int
    failed: int

    @property
    def median_s(self) -> float:
        """First time at which half the sessions are estimated complete; inf when that is never reached
        (nan without sessions)."""
        if self.n == 0:
            return math.nan
        reached = np.nonzero(self.cdf >= 0.5 - _TOLERANCE)[0]
        return float(self.times[reached[0]]) if len(reached) else math.inf

    def within(self, deadline_s: float) -> float:
        """Estimated fraction of all sessions completed within `deadline_s` (nan without sessions)."""
        if self.n == 0:
            return math.nan
        k = np.searchsorted(self.times, deadline_s + _TOLERANCE, side="right")
        return float(self.cdf[k - 1]) if k > 0 else 0.0

    @property
    def unfinished_share(self) -> float:
        return self.unfinished / self.n if self.n else math.nan

    @property
    def failed_share(self) -> float:
        return self.failed / self.n if self.n else math.nan

    def describe(self, format_time=None) -> str:
        """`n=120: 100 completed, 15 unfinished (12%), 5 failed (4%); median 88 ms` — for legends."""
        format_time = format_time or format_seconds
        median = self.median_s
        median_text = "median not reached" if median == math.inf else f"median {format_time(median)}"
        return (f"n={self.n}: {self.completed} completed, {self.unfinished} unfinished "
                f"({_percent(self.unfinished_share)}), {self.failed} failed ({_percent(self.failed_share)}); "
                f"{median_text}")


Scope = Union[pd.DataFrame, Sequence[Tuple[pd.DataFrame, float]]]


def completion_stats(sessions: Scope, run_end_s: float | None = None) -> CompletionStats:
    """Kaplan–Meier completion-time estimate over `sessions` (a sessions frame with the run's end in
    `run_end_s`, or a list of (sessions, run_end_s) pairs whose sessions are pooled, e.g. several seeds).
    Sessions without a finite start time are left out (they never started)."""
    parts = [(sessions, run_end_s)] if isinstance(sessions, pd.DataFrame) else list(sessions)
    times, events, counts = [], [], {COMPLETED: 0, UNFINISHED: 0, FAILED: 0}
    for frame, end in parts:
        frame = frame[np.isfinite(frame["start_s"].to_numpy(float))]
        kind = outcomes(frame)
        for name in counts:
            counts[name] += int((kind == name).sum())
        start = frame["start_s"].to_numpy(float)
        finish = frame["end_s"].to_numpy(float)
        done = (kind == COMPLETED).to_numpy()
        running = (kind == UNFINISHED).to_numpy()
        end = np.nan if end is None else float(end)
        t = np.full(len(frame), np.inf)  # failed: never
        t[done] = np.maximum(finish[done] - start[done], 0.0)
        # Unfinished: at least as long as it had run at the end (when the end is unknown, its last known time).
        age_end = np.where(np.isfinite(end), end, np.where(np.isfinite(finish), finish, start))
        t[running] = np.maximum(age_end[running] - start[running], 0.0)
        times.append(t)
        events.append(done)
    t = np.concatenate(times) if times else np.array([])
    event = np.concatenate(events) if events else np.array([], bool)
    return CompletionStats(*kaplan_meier(t, event), n=len(t), **counts)


def kaplan_meier(times: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct event times, estimated P(T <= t) at each) for observations `times` (inf = never) where `event`
    says the time was observed (else censored there). Censored at the same time as an event = still at risk."""
    times = np.asarray(times, float)
    event = np.asarray(event, bool)
    if not event.any():
        return np.array([]), np.array([])
    at, ended = np.unique(times[event], return_counts=True)
    at_risk = len(times) - np.searchsorted(np.sort(times), at, side="left")
    survival = np.cumprod(1.0 - ended / at_risk)
    return at, 1.0 - survival


def pooled(runs: Iterable, workload: str | None = None) -> list[tuple[pd.DataFrame, float]]:
    """(sessions, run end) of each run (results.RunResults or dmm.Results), optionally of one workload."""
    out = []
    for run in runs:
        sessions = run.sessions
        if workload is not None:
            sessions = sessions[sessions.workload == workload]
        out.append((sessions, run.duration_s))
    return out


def format_seconds(value: float) -> str:
    if value == math.inf:
        return "∞"
    if value == 0:
        return "0 s"
    if value < 1e-3:
        return f"{value * 1e6:.3g} µs"
    if value < 1:
        return f"{value * 1e3:.3g} ms"
    return f"{value:.3g} s"


def _percent(share: float) -> str:
    if not np.isfinite(share):
        return "-"
    return f"{share * 100:.0f}%" if share == 0 or share >= 0.01 else f"{share * 100:.1g}%"
