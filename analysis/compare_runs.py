#!/usr/bin/python3
"""Compare several DMM runs — results directories, or the runs of a sweep — in PNG plots.

    /usr/bin/python3 analysis/compare_runs.py RESULTS_DIR [RESULTS_DIR ...] [--label NAME ...] [--out DIR]
                                              [--workload NAME]

Runs with the same label are pooled (several seeds of one algorithm make one curve). Labels default to each
directory's name; `--label` gives them in order, one per directory, either repeated (`--label a --label b`) or
listed after the directories (`--label a b`). Writes into DIR (default ./comparison):
  goodput_cdf.png     CDF of each session's delivered rate (bytes_delivered / its lifetime; unfinished sessions
                      up to the run's end), over every session that got a stack, one curve per label
  completion_cdf.png  completion time over *all* sessions, one curve per label: Kaplan–Meier, unfinished
                      sessions censored at their age, failed ones never complete (completion.py); each label's
                      completed / unfinished / failed counts and median in the legend
  switch_times.png    when each run published a new policy version (one row per run) and the scenario events
`--workload NAME` restricts the CDFs to one workload (e.g. the RPCs, not the bulk transfers).
A plot without data is skipped with a one-line note on stderr. Prints the files written.
Exit codes: 0 ok, 2 bad usage or missing/unreadable results directory, 3 unexpected failure.

As functions (a notebook, a test):
    groups = compare_runs.from_dirs(["results/a", "results/b"], labels=["min-rtt", "mine"])
    groups = compare_runs.from_sweep(frame, by="nrd.algorithm")   # a dmm.sweep(...) frame
    fig = compare_runs.completion_cdf(groups, workload="rpc")     # a matplotlib Figure (shown inline)
    compare_runs.completion_table(groups, workload="rpc")          # median, within-deadline, unfinished shares
    compare_runs.plot_all(groups, "out/")                          # the three PNGs
`groups` is a dict: label -> list of runs (results.RunResults or dmm.Results).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Iterable, Mapping, Optional, Sequence, Union

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

if __package__:  # imported as dmm.analysis.compare_runs
    from . import completion, plot_run
    from .results import ResultsError, RunResults, delivered_bytes, load_results
else:  # run as a script, or imported from the analysis directory
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import completion  # noqa: E402
    import plot_run  # noqa: E402
    from results import ResultsError, RunResults, delivered_bytes, load_results  # noqa: E402

Groups = Mapping[str, Sequence[RunResults]]

EXIT_USAGE = 2
ROW_IN = 0.32             # height of one run's row in switch_times.png
MAX_RUN_ROWS = 60         # beyond this many runs, switch_times.png shows the first ones and says so


def note(message: str) -> None:
    print(f"compare_runs: {message}", file=sys.stderr)


# --- building the groups --------------------------------------------------------------------------------------

def from_dirs(paths: Sequence[str], labels: Optional[Sequence[str]] = None) -> dict[str, list[RunResults]]:
    """Load results directories; runs sharing a label are pooled. Raises ResultsError for a bad directory."""
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"{len(labels)} labels for {len(paths)} results directories")
    groups: dict[str, list[RunResults]] = {}
    for index, path in enumerate(paths):
        label = labels[index] if labels is not None else os.path.basename(os.path.normpath(path)) or path
        groups.setdefault(label, []).append(load_results(path))
    return groups


def from_sweep(frame, by: Union[str, Sequence[str], None] = None) -> dict[str, list[RunResults]]:
    """Group the runs of a `dmm.sweep` frame by the values of the column(s) `by` (default: the grid keys whose
    value varies, but not "seed", so the seeds of one setting are pooled). Labels read `key=value, ...` (just the
    value for one key)."""
    if "results" not in frame.columns:
        raise ValueError("not a sweep frame: it has no 'results' column")
    if by is None:
        by = [key for key in frame.attrs.get("grid", [])
              if key != "seed" and key in frame.columns and frame[key].astype(str).nunique() > 1]
    keys = [by] if isinstance(by, str) else list(by)
    missing = [key for key in keys if key not in frame.columns]
    if missing:
        raise ValueError(f"no column {', '.join(map(repr, missing))} in the sweep frame")
    groups: dict[str, list[RunResults]] = {}
    for _, row in frame.iterrows():
        if len(keys) == 1:
            label = str(row[keys[0]])
        else:
            label = ", ".join(f"{key}={row[key]}" for key in keys) or "all runs"
        groups.setdefault(label, []).append(row["results"])
    return groups


# --- what is compared -----------------------------------------------------------------------------------------

def completed_sessions(run: RunResults, workload: Optional[str] = None):
    """Completed sessions with a stack and a finite, non-negative duration (optionally of one workload). Only
    the finished ones: for statistics over sessions use completion_stats, which counts the others too."""
    s = run.sessions
    done = s[s.completed & s["stack"].notna() & np.isfinite(s.start_s) & np.isfinite(s.end_s)]
    done = done[done.end_s >= done.start_s]
    if workload is not None:
        done = done[done.workload == workload]
    return done


def completion_times(runs: Iterable[RunResults], workload: Optional[str] = None) -> np.ndarray:
    """Durations of the completed sessions only (see completed_sessions); not a statistic to rank by."""
    parts = [(d.end_s - d.start_s).to_numpy(float) for d in (completed_sessions(r, workload) for r in runs)]
    return np.concatenate(parts) if parts else np.array([])


def completion_stats(runs: Iterable[RunResults], workload: Optional[str] = None) -> completion.CompletionStats:
    """Completion time over every session of the runs (pooled), unfinished ones censored at their age and
    failed ones never completing (completion.py)."""
    return completion.completion_stats(completion.pooled(runs, workload))


def completion_table(groups: Groups, workload: Optional[str] = None,
                     deadlines_s: Sequence[float] = (0.1, 1.0)) -> "pd.DataFrame":
    """One row per label: sessions, completed / unfinished / failed shares, the censored median (inf = not
    reached) and the fraction of all sessions completed within each deadline."""
    import pandas as pd

    rows = []
    for label, runs in groups.items():
        stats = completion_stats(runs, workload)
        row = {"label": label, "sessions": stats.n, "completed_share": stats.completed / stats.n if stats.n else np.nan,
               "unfinished_share": stats.unfinished_share, "failed_share": stats.failed_share,
               "median_completion_s": stats.median_s}
        for deadline in deadlines_s:
            row[f"within_{deadline:g}s"] = stats.within(deadline)
        rows.append(row)
    return pd.DataFrame(rows).set_index("label")


def session_rates_mbps(runs: Iterable[RunResults], workload: Optional[str] = None) -> np.ndarray:
    """Per session that got a stack: bytes delivered * 8 / its lifetime, in Mbit/s. Unfinished sessions count
    up to the run's end and failed ones up to their failure (often 0): none is left out for not finishing.
    Sessions of zero lifetime have no rate and are left out."""
    parts = []
    for run in runs:
        s = run.sessions
        s = s[s["stack"].notna() & np.isfinite(s.start_s)]
        if workload is not None:
            s = s[s.workload == workload]
        ends = np.where(np.isfinite(s.end_s), s.end_s, run.duration_s)
        seconds = ends - s.start_s.to_numpy(float)
        delivered = delivered_bytes(s).to_numpy(float)
        keep = (seconds > 0) & np.isfinite(delivered)  # unknown bytes (a command's run): no rate
        parts.append(delivered[keep] * 8 / seconds[keep] / 1e6)
    return np.concatenate(parts) if parts else np.array([])


# The first name of session_rates_mbps, when it left unfinished sessions out and counted offered bytes.
session_goodputs_mbps = session_rates_mbps


def switch_times(run: RunResults) -> np.ndarray:
    """Times at which the run published a new policy version (the first version is the initial policy)."""
    policy = run.policy[run.policy.time_s.notna() & run.policy.version.notna()]
    if len(policy) == 0:
        return np.array([])
    return policy[policy.version != policy.version.min()].time_s.to_numpy(float)


# --- the plots --------------------------------------------------------------------------------------------------

def label_colors(groups: Groups) -> dict[str, object]:
    palette = plt.get_cmap("tab10").colors
    return {label: palette[i % len(palette)] for i, label in enumerate(groups)}


def _title(groups: Groups, what: str, workload: Optional[str]) -> str:
    names = sorted({run.scenario for runs in groups.values() for run in runs})
    scope = f" (workload {workload})" if workload else ""
    return f"{', '.join(names)}: {what}{scope}"


def goodput_cdf(groups: Groups, workload: Optional[str] = None):
    """Figure: CDF of per-session delivered rate per label (session_rates_mbps); None when no session has one.
    Each label's legend says how many of its sessions were unfinished or failed (they are in the curve)."""
    samples = {label: session_rates_mbps(runs, workload) for label, runs in groups.items()}
    if not any(len(v) for v in samples.values()):
        return None
    shares = {label: completion_stats(runs, workload) for label, runs in groups.items()}
    fig, ax = plt.subplots(figsize=(8, 4.5))
    plot_run.draw_cdfs(ax, {label: v for label, v in samples.items()}, label_colors(groups),
                       "session delivered rate (Mbit/s): bytes delivered / lifetime",
                       "fraction of sessions with a stack", lambda v: f"{v:.3g} Mbit/s")
    handles, texts = ax.get_legend_handles_labels()
    labels_in_order = [label for label, v in samples.items() if len(v)]
    texts = [f"{text}; {_shares(shares[label])}" for text, label in zip(texts, labels_in_order)]
    ax.legend(handles, texts, loc="lower right", fontsize=7)
    ax.set_title(_title(groups, "per-session delivered rate CDF (unfinished and failed sessions included)",
                        workload), fontsize=10)
    return fig


def completion_cdf(groups: Groups, workload: Optional[str] = None):
    """Figure: completion time over all sessions per label (Kaplan–Meier, see completion.py); None when no
    session completed."""
    stats = {label: completion_stats(runs, workload) for label, runs in groups.items()}
    if not any(s.completed for s in stats.values()):
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    plot_run.draw_completion(ax, stats, label_colors(groups))
    ax.set_title(_title(groups, "session completion time", workload) + f"\n({completion.METHOD})", fontsize=10)
    return fig


def _shares(stats: completion.CompletionStats) -> str:
    return (f"{stats.unfinished_share:.1%} unfinished, {stats.failed_share:.1%} failed" if stats.n
            else "no sessions")


def switch_times_figure(groups: Groups):
    """Figure: one row per run with a marker at every policy change and the scenario events as dashed lines;
    None when there are no runs."""
    rows = [(label, run) for label, runs in groups.items() for run in runs]
    if not rows:
        return None
    shown = rows[:MAX_RUN_ROWS]
    colors = label_colors(groups)
    duration = max(run.duration_s for _, run in rows)
    fig, ax = plt.subplots(figsize=(10, 1.2 + ROW_IN * len(shown)))
    events = sorted({(t, text) for _, run in rows for t, text in plot_run.event_markers(run)})
    for t, text in events:
        ax.axvline(t, **plot_run.EVENT_STYLE, zorder=1)
        ax.annotate(text, (t, 1.0), xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right",
                    fontsize=7, color=plot_run.EVENT_STYLE["color"])
    seen = set()
    for y, (label, run) in enumerate(shown):
        times = switch_times(run)
        ax.axhline(y, color="0.9", linewidth=0.8, zorder=0)
        ax.plot(times, np.full(len(times), y), linestyle="none", marker="|", markersize=12, markeredgewidth=2,
                color=colors[label], label=label if label not in seen else None, zorder=3)
        seen.add(label)
    ax.set_yticks(range(len(shown)), [_run_name(label, run) for label, run in shown], fontsize=8)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_xlim(0, duration)
    ax.set_xlabel("time (s)")
    more = f" (first {len(shown)} of {len(rows)} runs)" if len(shown) < len(rows) else ""
    ax.set_title(_title(groups, "policy changes per run" + more, None))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return fig


def _run_name(label: str, run: RunResults) -> str:
    seed = run.summary.get("seed")
    return f"{label} (seed {seed})" if seed is not None else label


def plot_all(groups: Groups, out_dir: str, workload: Optional[str] = None) -> list[str]:
    """Write goodput_cdf.png, completion_cdf.png and switch_times.png (those with data) into `out_dir`; returns
    the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, make in [("goodput_cdf.png", lambda: goodput_cdf(groups, workload)),
                       ("completion_cdf.png", lambda: completion_cdf(groups, workload)),
                       ("switch_times.png", lambda: switch_times_figure(groups))]:
        fig = make()
        if fig is None:
            note(f"skipping {name}: no data")
            continue
        written.append(plot_run.save(fig, out_dir, name))
    return written


# --- command line -------------------------------------------------------------------------------------------------

class _UsageParser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        note(message)
        sys.exit(EXIT_USAGE)


def parse_args(argv):
    parser = _UsageParser(prog="compare_runs.py", description="Compare DMM runs in PNG plots.")
    parser.add_argument("results_dirs", metavar="RESULTS_DIR", nargs="+", help="results directories")
    # `--label a b c` (after the directories, as the README writes it) and `--label a --label b` both work.
    parser.add_argument("--label", action="extend", nargs="+", metavar="NAME",
                        help="labels of the directories, in order, one per directory (same label = pooled)")
    parser.add_argument("--out", metavar="DIR", default="comparison", help="where to write the PNGs")
    parser.add_argument("--workload", metavar="NAME", help="only this workload's sessions in the CDFs")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    matplotlib.use("Agg")  # a script only writes files
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="compare_runs: %(message)s", stream=sys.stderr)
    if args.label is not None and len(args.label) != len(args.results_dirs):
        note(f"{len(args.label)} --label for {len(args.results_dirs)} results directories: give one per directory")
        return EXIT_USAGE
    try:
        groups = from_dirs(args.results_dirs, args.label)
    except ResultsError as err:
        note(str(err))
        return EXIT_USAGE
    return plot_run.draw_and_report(lambda: plot_all(groups, args.out, args.workload), note)


if __name__ == "__main__":
    sys.exit(main())
