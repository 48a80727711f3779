#!/usr/bin/python3
"""Turn a DMM results directory (DESIGN.md §2.2) into PNG plots.

    /usr/bin/python3 analysis/plot_run.py RESULTS_DIR [--out DIR]

Writes, into DIR (default RESULTS_DIR/plots):
  goodput.png         delivered rate per stack over time: sessions.csv bytes_delivered (what arrived, not what
                      was sent), each session's bytes spread evenly over its lifetime
  session_share.png   share of new sessions per stack per time bin
  nrd_estimates.png   nRD's per-stack estimates from metrics.csv (RTT, goodput and capacity estimates, loss, health); lines break
                      where nRD was stopped (no rows) and where an estimate expired (empty cells)
  completion_cdf.png  completion time per stack over *all* its sessions (Kaplan–Meier: unfinished sessions
                      censored at their age, failed ones never complete; completion.py), with each stack's
                      completed / unfinished / failed counts in the legend
Scenario events and policy-version changes are drawn as vertical markers on the time plots.
A plot without data is skipped with a one-line note on stderr. Prints the files written.
Exit codes: 0 ok, 2 bad usage or missing/unreadable results directory, 3 unexpected failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

if __package__:  # imported as dmm.analysis.plot_run
    from . import completion
    from .results import ResultsError, RunResults, bytes_unknown, delivered_bytes, load_results
else:  # run as a script, or imported from the analysis directory
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import completion  # noqa: E402
    from results import ResultsError, RunResults, bytes_unknown, delivered_bytes, load_results  # noqa: E402

DPI = 150
MIN_BIN_S = 0.1
GOODPUT_BINS = 200
MAX_SHARE_BINS = 50
MIN_SESSIONS_PER_SHARE_BIN = 5
LOG_X_SPREAD = 100.0          # CDF x-axis goes logarithmic when max/min completion time exceeds this
MAX_MARKER_LABEL = 32         # characters
FIG_WIDTH_IN = 10
AXES_WIDTH_IN = FIG_WIDTH_IN * 0.775  # matplotlib's default subplot width
LABEL_ROW_IN = 0.17           # one row of marker labels above a time plot
MAX_LABEL_ROWS = 6            # beyond this, markers keep their line but lose their label
LABEL_CHAR_IN = 7 * 0.6 / 72  # a 7 pt character, roughly
NO_STACK = "(no stack)"
EVENT_STYLE = dict(color="0.25", linestyle="--", linewidth=1.0)
POLICY_STYLE = dict(color="tab:purple", linestyle=":", linewidth=1.3)

EXIT_OK, EXIT_USAGE, EXIT_FAILURE = 0, 2, 3


def note(message: str) -> None:
    print(f"plot_run: {message}", file=sys.stderr)


# --- time binning ------------------------------------------------------------------------------------------

def goodput_bin_s(duration_s: float) -> float:
    return nice_step(max(duration_s / GOODPUT_BINS, MIN_BIN_S))


def nice_step(seconds: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten that is >= seconds: bin widths
    people can read (0.6 s, not 0.5625 s)."""
    exponent = np.floor(np.log10(seconds))
    for mantissa in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        step = round(mantissa * 10.0 ** exponent, 12)
        if step >= seconds * (1 - 1e-9):
            return step
    return seconds


def bin_widths(edges: np.ndarray, duration_s: float) -> np.ndarray:
    """Widths of the bins within the run: the last bin may stick out past the end, where nothing happens."""
    return np.maximum(np.minimum(edges[1:], duration_s) - edges[:-1], 1e-12)


def bin_edges(duration_s: float, width_s: float) -> np.ndarray:
    count = max(1, int(np.ceil(duration_s / width_s - 1e-9)))
    return np.arange(count + 1) * width_s


def cumulative_bytes(starts: np.ndarray, ends: np.ndarray, sizes: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Bytes delivered by time `at` when each session spreads its bytes uniformly over [start, end].

    Each session contributes rate*(max(0, t-start) - max(0, t-end)); sums of rate*max(0, t-x) over sorted x
    are t*cumsum(rate) - cumsum(rate*x), so this is O((sessions + bins) log sessions). A zero-length session
    delivers all its bytes at its start."""
    total = np.zeros(len(at))
    length = ends - starts
    instant = length <= 1e-12
    if instant.any():
        order = np.argsort(starts[instant])
        cum = np.concatenate([[0.0], np.cumsum(sizes[instant][order])])
        total += cum[np.searchsorted(starts[instant][order], at, side="left")]  # counted once t > start
    spread = ~instant
    if spread.any():
        rate = sizes[spread] / length[spread]
        total += _ramp_sum(starts[spread], rate, at) - _ramp_sum(ends[spread], rate, at)
    return total


def _ramp_sum(x: np.ndarray, rate: np.ndarray, at: np.ndarray) -> np.ndarray:
    """sum_i rate_i * max(0, at - x_i) for every value of `at`."""
    order = np.argsort(x)
    xs, rs = x[order], rate[order]
    cum_r = np.concatenate([[0.0], np.cumsum(rs)])
    cum_rx = np.concatenate([[0.0], np.cumsum(rs * xs)])
    k = np.searchsorted(xs, at, side="left")
    return at * cum_r[k] - cum_rx[k]


def goodput_series(sessions: pd.DataFrame, duration_s: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(bin edges, {stack: Mbit/s per bin}) with every session's delivered bytes spread over its lifetime (an
    unfinished session's up to the end of the run)."""
    edges = bin_edges(duration_s, goodput_bin_s(duration_s))
    frame = sessions[sessions["stack"].notna() & np.isfinite(sessions.start_s)]
    series = {}
    delivered = delivered_bytes(frame)
    # Command runs (dmm-emu) have no known bytes: left out, never counted as 0 (the plot says how many).
    frame, delivered = frame[delivered.notna()], delivered[delivered.notna()]
    for stack, group in frame.groupby("stack", sort=True):
        sizes = delivered.loc[group.index]
        starts = group.start_s.to_numpy(float)
        ends = group.end_s.to_numpy(float)
        ends = np.where(np.isfinite(ends), ends, duration_s)  # still open at the end of the run
        ends = np.maximum(ends, starts)  # end before start: treat as instantaneous
        cumulative = cumulative_bytes(starts, ends, sizes.to_numpy(float), edges)
        series[str(stack)] = np.diff(cumulative) * 8 / bin_widths(edges, duration_s) / 1e6
    return edges, series


def share_series(sessions: pd.DataFrame, duration_s: float) -> tuple[np.ndarray, pd.DataFrame]:
    """(bin edges, counts of new sessions per bin (rows) and stack (columns)). Bins are coarse enough that a
    typical bin holds a few sessions, so a share is not one session's coin flip."""
    frame = sessions[np.isfinite(sessions.start_s)]
    bins = int(np.clip(len(frame) // MIN_SESSIONS_PER_SHARE_BIN, 1, MAX_SHARE_BINS))
    edges = bin_edges(duration_s, nice_step(max(duration_s / bins, MIN_BIN_S)))
    stacks = frame["stack"].fillna(NO_STACK).astype(str)
    index = np.clip(np.searchsorted(edges, frame.start_s.to_numpy(float), side="right") - 1, 0, len(edges) - 2)
    counts = pd.crosstab(index, stacks).reindex(range(len(edges) - 1), fill_value=0)
    return edges, counts


# --- markers and styling -----------------------------------------------------------------------------------

def stack_colors(run: RunResults) -> dict[str, object]:
    """One colour per stack, the same in every plot of the run."""
    palette = plt.get_cmap("tab10").colors
    colors = {name: palette[i % len(palette)] for i, name in enumerate(run.stacks())}
    colors[NO_STACK] = "0.7"
    return colors


def event_markers(run: RunResults) -> list[tuple[float, str]]:
    """(time, label) per scenario event; events at the same instant share one label."""
    events = run.events[run.events.time_s.notna()]
    labels: dict[float, list[str]] = {}
    for row in events.itertuples():
        target = row.target if isinstance(row.target, str) else ""
        what = row.detail if isinstance(row.detail, str) else (row.event if isinstance(row.event, str) else "")
        text = f"{target}: {what}" if target and what else (target or what or "event")
        labels.setdefault(float(row.time_s), []).append(text)
    return [(t, shorten("; ".join(texts))) for t, texts in sorted(labels.items())]


def policy_markers(run: RunResults) -> list[tuple[float, str]]:
    """(time, "vN") per policy change; the first version is the initial policy, not a change."""
    policy = run.policy[run.policy.time_s.notna() & run.policy.version.notna()]
    if len(policy) == 0:
        return []
    first = policy.version.min()
    return [(float(r.time_s), f"v{int(r.version)}") for r in policy.itertuples() if r.version != first]


def shorten(text: str) -> str:
    return text if len(text) <= MAX_MARKER_LABEL else text[: MAX_MARKER_LABEL - 1] + "…"


def draw_marker_lines(ax, events, policies) -> None:
    for t, _ in events:
        ax.axvline(t, **EVENT_STYLE, zorder=3)
    for t, _ in policies:
        ax.axvline(t, **POLICY_STYLE, zorder=3)


def layout_marker_labels(markers, duration_s: float) -> list[tuple[float, str, str, int]]:
    """Horizontal labels packed into rows so none overlap: (time, text, "left"/"right", row), row 0 nearest
    the data. Markers are placed in the order given (callers put policy changes first, so they keep their
    label when space runs out); a label that would need more than MAX_LABEL_ROWS rows gets row -1 (left
    out). Widths are estimated from the character count, close enough for a 7 pt sans-serif font."""
    data_per_in = duration_s / AXES_WIDTH_IN
    rows: list[list[tuple[float, float]]] = []
    placed = []
    for t, text, _ in markers:
        width = (len(text) + 2) * LABEL_CHAR_IN * data_per_in
        align = "left" if t + width <= duration_s else "right"
        start, end = (t, t + width) if align == "left" else (t - width, t)
        row = next((i for i, spans in enumerate(rows) if all(end < s or start > e for s, e in spans)),
                   len(rows))
        if row == MAX_LABEL_ROWS:
            placed.append((t, text, align, -1))
            continue
        if row == len(rows):
            rows.append([])
        rows[row].append((start, end))
        placed.append((t, text, align, row))
    return placed


def draw_marker_labels(strip, placed, markers) -> None:
    """The label strip above the data: labels never hide a curve there."""
    rows = 1 + max(row for *_, row in placed)
    strip.set_ylim(0, rows)
    strip.set_yticks([])
    strip.tick_params(axis="x", bottom=False, labelbottom=False)
    for side in ("left", "right", "bottom", "top"):
        strip.spines[side].set_visible(False)
    styles = {text: style for _, text, style in markers}
    box = dict(facecolor="white", edgecolor="none", alpha=0.85, pad=0.3)
    omitted = sum(1 for *_, row in placed if row < 0)
    if omitted:
        strip.text(1.01, 1.0, f"({omitted} more marker\nlabels omitted)", transform=strip.transAxes, ha="left",
                   va="top", fontsize=7, color="0.4")
    for t, text, align, row in (p for p in placed if p[3] >= 0):
        strip.plot([t, t], [0, row + 0.5], **styles[text])
        strip.text(t, row + 0.5, (" " + text) if align == "left" else (text + " "), ha=align, va="center",
                   fontsize=7, color=styles[text]["color"], bbox=box, zorder=4)


def marker_legend_handles(events, policies) -> list[Line2D]:
    handles = []
    if events:
        handles.append(Line2D([], [], **EVENT_STYLE, label="scenario event"))
    if policies:
        handles.append(Line2D([], [], **POLICY_STYLE, label="policy change (vN)"))
    return handles


def time_figure(run: RunResults, panel_heights_in: list[float], what: str):
    """A figure of panels sharing the time axis [0, duration], with event and policy markers on every panel
    and, when there are any, a label strip on top. Returns (fig, panels, events, policies)."""
    events, policies = event_markers(run), policy_markers(run)
    markers = [(t, text, POLICY_STYLE) for t, text in policies] + [(t, text, EVENT_STYLE) for t, text in events]
    placed = layout_marker_labels(markers, run.duration_s)
    strip_in = (1 + max(row for *_, row in placed)) * LABEL_ROW_IN if placed else 0.0
    # The strip touches the top panel (hspace 0) so each label's line runs straight into its marker.
    fig = plt.figure(figsize=(FIG_WIDTH_IN, strip_in + sum(panel_heights_in) + 0.8))
    outer = fig.add_gridspec(2, 1, height_ratios=[max(strip_in, 1e-3), sum(panel_heights_in)], hspace=0)
    inner = outer[1].subgridspec(len(panel_heights_in), 1, height_ratios=panel_heights_in, hspace=0.12)
    panels = [fig.add_subplot(inner[i]) for i in range(len(panel_heights_in))]
    for ax in panels[1:]:
        ax.sharex(panels[0])
    for ax in panels[:-1]:
        ax.tick_params(labelbottom=False)
    top = panels[0]
    if strip_in:
        top = fig.add_subplot(outer[0], sharex=panels[0])
        draw_marker_labels(top, placed, markers)
    for ax in panels:
        draw_marker_lines(ax, events, policies)
        ax.grid(alpha=0.3)
    top.set_title(title(run, what))
    panels[-1].set_xlim(0, run.duration_s)
    for ax in fig.axes:
        ax.set_autoscalex_on(False)  # bars drawn later must not widen the shared time axis
    panels[-1].set_xlabel("time (s)")
    return fig, panels, events, policies


def outside_legend(ax, extra_handles=()) -> None:
    handles, _ = ax.get_legend_handles_labels()
    handles = list(handles) + list(extra_handles)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def title(run: RunResults, what: str) -> str:
    seed = run.summary.get("seed")
    return f"{run.scenario}" + (f" (seed {seed})" if seed is not None else "") + f": {what}"


def save(fig, out_dir: str, name: str) -> str:
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


# --- the plots ---------------------------------------------------------------------------------------------

def plot_goodput(run: RunResults, out_dir: str):
    duration = run.duration_s
    edges, series = goodput_series(run.sessions, duration)
    unknown = int(bytes_unknown(run.sessions).sum())
    if not series:
        note("skipping goodput.png: " + ("the sessions are command runs, whose bytes are not known" if unknown
                                         else "no session ran on a stack"))
        return None
    colors = stack_colors(run)
    left_out = f"; {unknown} command runs left out: their bytes are not known" if unknown else ""
    fig, (ax,), events, policies = time_figure(
        run, [4.0], f"delivered rate per stack ({goodput_bin_s(duration):g} s bins; bytes that arrived, "
                    f"sessions.csv bytes_delivered{left_out})")
    for stack, mbps in series.items():
        ax.step(edges, np.append(mbps, mbps[-1]), where="post", color=colors.get(stack), linewidth=1.2,
                label=stack)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("delivered (Mbit/s)")
    outside_legend(ax, marker_legend_handles(events, policies))
    return save(fig, out_dir, "goodput.png")


def plot_session_share(run: RunResults, out_dir: str):
    duration = run.duration_s
    if not np.isfinite(run.sessions.start_s).any():
        note("skipping session_share.png: no sessions")
        return None
    edges, counts = share_series(run.sessions, duration)
    widths = np.diff(edges)
    totals = counts.sum(axis=1).to_numpy(float)
    shares = counts.div(np.where(totals > 0, totals, np.nan), axis=0).fillna(0)
    colors = stack_colors(run)
    # Sessions per second in a panel below: a share computed from two sessions means less than one from 200.
    fig, (ax, rate_ax), events, policies = time_figure(
        run, [3.6, 1.0], f"stack chosen for new sessions ({widths[0]:g} s bins)")
    bottom = np.zeros(len(widths))
    order = [c for c in counts.columns if c != NO_STACK] + ([NO_STACK] if NO_STACK in counts.columns else [])
    for stack in order:
        ax.bar(edges[:-1], shares[stack].to_numpy(float), width=widths, bottom=bottom, align="edge",
               color=colors.get(stack), edgecolor="white", linewidth=0.3, label=stack)
        bottom += shares[stack].to_numpy(float)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of new sessions")
    outside_legend(ax, marker_legend_handles(events, policies))
    rate_ax.bar(edges[:-1], totals / bin_widths(edges, duration), width=widths, align="edge", color="0.55", edgecolor="white",
                linewidth=0.3)
    rate_ax.set_ylabel("new\nsessions/s")
    rate_ax.set_ylim(bottom=0)
    fig.align_ylabels([ax, rate_ax])
    return save(fig, out_dir, "session_share.png")


NRD_PANELS = [  # (column, axis label)
    ("rtt_ms", "RTT (ms)"),
    # nRD's estimates from sampled sessions: goodput (solid, follows demand) and capacity (dashed, what backlogged
    # senders reached: a lower bound on what the path carries)
    ("goodput_estimate_mbps", "goodput (—) and\ncapacity (--)\nestimates (Mbit/s)"),
    ("loss", "loss (fraction)"),
    ("healthy", "health"),
]


GAP_PERIODS = 1.5  # rows further apart than this many of nRD's periods: nRD was not deciding in between


def break_at_gaps(group: pd.DataFrame) -> pd.DataFrame:
    """One stack's metrics rows, sorted, with a row of NaNs in every gap longer than GAP_PERIODS periods (the
    period is the usual spacing of the rows). nRD writes a row every period while it runs; a gap means it was
    stopped, and a line drawn across it would show estimates nobody made (a recovery that never happened)."""
    group = group.sort_values("time_s", kind="stable")
    times = group.time_s.to_numpy(float)
    steps = np.diff(times)
    if not (steps > 0).any():
        return group
    period = float(np.median(steps[steps > 0]))
    gaps = np.nonzero(steps > GAP_PERIODS * period)[0]
    if len(gaps) == 0:
        return group
    filler = pd.DataFrame({column: [np.nan] * len(gaps) for column in group.columns})
    filler["time_s"] = (times[gaps] + times[gaps + 1]) / 2
    filler["stack"] = group["stack"].iloc[0]
    filler["healthy"] = np.nan
    frame = pd.concat([group.astype({"healthy": object}), filler], ignore_index=True)
    return frame.sort_values("time_s", kind="stable").reset_index(drop=True)


def plot_nrd_estimates(run: RunResults, out_dir: str):
    metrics = run.metrics[run.metrics.time_s.notna() & run.metrics["stack"].notna()].copy()
    if len(metrics) == 0:
        note("skipping nrd_estimates.png: no nRD metrics (nRD disabled?)")
        return None
    if not metrics["goodput_estimate_mbps"].notna().any():  # results from before the column had its name
        metrics["goodput_estimate_mbps"] = metrics["goodput_mbps"]
    colors = stack_colors(run)
    groups = [(str(stack), break_at_gaps(g)) for stack, g in metrics.groupby("stack", sort=True)]
    fig, axes, events, policies = time_figure(run, [2.0, 2.0, 1.6, 1.2], "nRD estimates per stack")
    for ax, (column, label) in zip(axes, NRD_PANELS):
        for k, (stack, group) in enumerate(groups):
            if column == "healthy":
                # Small per-stack offsets keep overlapping 0/1 lines apart.
                offset = 0.04 * (k - (len(groups) - 1) / 2)
                ax.step(group.time_s, group.healthy.astype(float) + offset, where="post",  # NaN: a gap
                        color=colors.get(stack), linewidth=1.4, label=stack)
            else:
                # Markers as well as lines: a value between two gaps (NaN) is otherwise invisible.
                ax.plot(group.time_s, group[column], color=colors.get(stack), linewidth=1.2, marker=".",
                        markersize=3, label=stack)
                if column == "goodput_estimate_mbps" and "capacity_estimate_mbps" in group:
                    ax.plot(group.time_s, group.capacity_estimate_mbps, color=colors.get(stack), linewidth=1.0,
                            linestyle="--", gid=f"capacity:{stack}")
        if column == "healthy":
            ax.set_yticks([0, 1], ["unhealthy", "healthy"])
            ax.set_ylim(-0.3, 1.3)
        else:
            shown = [c for c in (column, "capacity_estimate_mbps" if column == "goodput_estimate_mbps" else None)
                     if c in metrics]
            if not np.isfinite(metrics[shown].to_numpy(float)).any():
                ax.text(0.5, 0.5, "no estimate", transform=ax.transAxes, ha="center", va="center",
                        color="0.5")
            ax.set_ylim(bottom=0)
        ax.set_ylabel(label)
    outside_legend(axes[0], marker_legend_handles(events, policies))
    fig.align_ylabels(axes)
    return save(fig, out_dir, "nrd_estimates.png")


def plot_completion_cdf(run: RunResults, out_dir: str):
    fig = completion_figure(run)
    if fig is None:
        note("skipping completion_cdf.png: no completed sessions")
        return None
    return save(fig, out_dir, "completion_cdf.png")


def completion_figure(run: RunResults):
    """Figure: completion time per stack over all its sessions (see draw_completion); the title says how they
    are counted and the share of all sessions unfinished and failed. None when no session completed."""
    sessions = run.sessions[np.isfinite(run.sessions.start_s)]
    carried = sessions[sessions["stack"].notna()]
    if not carried.completed.any():
        return None
    stats = {str(stack): completion.completion_stats(group, run.duration_s)
             for stack, group in carried.groupby("stack", sort=True)}
    fig, ax = plt.subplots(figsize=(8, 4.5))
    draw_completion(ax, stats, stack_colors(run))
    without = len(sessions) - len(carried)
    scope = f"; {without} sessions got no stack (failed)" if without else ""
    everyone = completion.completion_stats(sessions, run.duration_s)
    ax.set_title(title(run, "session completion time") + f"\n({completion.METHOD})\nall {everyone.n} sessions: "
                 f"{everyone.unfinished_share:.1%} unfinished, {everyone.failed_share:.1%} failed{scope}",
                 fontsize=9)
    return fig


def draw_completion(ax, stats: dict, colors: dict, describe=None) -> None:
    """One Kaplan–Meier completion curve per label (completion.CompletionStats): the estimated fraction of *all*
    the label's sessions completed by t. Unfinished sessions are censored at their age, failed ones never complete,
    so a curve stops below 1 by what did not complete; the legend gives each label's counts and median."""
    describe = describe or (lambda s: s.describe())
    stats = {label: s for label, s in stats.items() if s.n}
    positive = np.concatenate([s.times[s.times > 0] for s in stats.values()] or [np.array([])])
    log_x = len(positive) > 0 and positive.max() / positive.min() > LOG_X_SPREAD
    floor = positive.min() if len(positive) else 0.0
    right = positive.max() if len(positive) else 1.0
    for label, s in stats.items():
        times = np.maximum(s.times, floor) if log_x else s.times
        if len(times) == 0:  # nothing completed: a flat line at 0
            times, cdf = np.array([floor if log_x else 0.0]), np.array([0.0])
        else:
            cdf = s.cdf
        xs = np.concatenate([[times[0]], times, [right]])
        ys = np.concatenate([[0.0], cdf, [cdf[-1]]])
        ax.step(xs, ys, where="post", color=colors.get(label), linewidth=1.4, label=f"{label}: {describe(s)}")
    ax.axhline(0.5, color="0.6", linewidth=0.8, linestyle=":", zorder=0)
    if log_x:
        ax.set_xscale("log")
    else:
        ax.set_xlim(left=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("session completion time (s)" + (", log scale" if log_x else ""))
    ax.set_ylabel("fraction of all sessions completed")
    ax.grid(alpha=0.3, which="both" if log_x else "major")
    ax.legend(loc="lower right", fontsize=7)


def draw_cdfs(ax, samples: dict[str, np.ndarray], colors: dict, xlabel: str, ylabel: str,
              describe=None) -> None:
    """One step CDF per non-empty entry of `samples` (label -> values), labelled with n and the median
    (`describe` formats it; seconds by default). The x-axis goes logarithmic when the positive values spread
    over more than LOG_X_SPREAD (zeros then sit at the smallest positive value)."""
    describe = describe or format_seconds
    samples = {label: np.sort(np.asarray(values, float)) for label, values in samples.items() if len(values)}
    positive = np.concatenate([v[v > 0] for v in samples.values()] or [np.array([])])
    log_x = len(positive) > 0 and positive.max() / positive.min() > LOG_X_SPREAD
    floor = positive.min() if len(positive) else 0.0
    for label, values in samples.items():
        if log_x:
            values = np.maximum(values, floor)  # a zero-length session cannot sit on a log axis
        fraction = np.arange(1, len(values) + 1) / len(values)
        ax.step(np.concatenate([[values[0]], values]), np.concatenate([[0.0], fraction]), where="post",
                color=colors.get(label), linewidth=1.4,
                label=f"{label} (n={len(values)}, median {describe(np.median(values))})")
    if log_x:
        ax.set_xscale("log")
    else:
        ax.set_xlim(left=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel + (", log scale" if log_x else ""))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both" if log_x else "major")
    ax.legend(loc="lower right", fontsize=8)


format_seconds = completion.format_seconds


PLOTS = [plot_goodput, plot_session_share, plot_nrd_estimates, plot_completion_cdf]


# --- command line -------------------------------------------------------------------------------------------

def plot_all(run: RunResults, out_dir: str) -> list[str]:
    """Draw every plot that has data; returns the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for plot in PLOTS:
        path = plot(run, out_dir)
        if path:
            written.append(path)
    return written


class _UsageParser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 already; keep the "plot_run:" prefix on the message
        self.print_usage(sys.stderr)
        note(message)
        sys.exit(EXIT_USAGE)


def parse_args(argv):
    parser = _UsageParser(prog="plot_run.py", description="Draw PNG plots of a DMM results directory.")
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="results directory written by dmm-sim")
    parser.add_argument("--out", metavar="DIR", help="where to write the PNGs (default RESULTS_DIR/plots)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    # A script only writes files; imported (e.g. in a notebook), plot_run leaves the caller's backend alone.
    matplotlib.use("Agg")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="plot_run: %(message)s", stream=sys.stderr)
    try:
        run = load_results(args.results_dir)
    except ResultsError as err:
        note(str(err))
        return EXIT_USAGE
    out_dir = args.out or os.path.join(args.results_dir, "plots")
    return draw_and_report(lambda: plot_all(run, out_dir), note)


def draw_and_report(draw, say=note) -> int:
    """The analysis scripts' contract: print the files `draw()` wrote and return 0, or say why it failed and
    return 3 — a message, never a traceback (DMM_DEBUG=1 shows it)."""
    try:
        with np.errstate(all="ignore"):
            written = draw()
    except Exception as err:  # noqa: BLE001 - the contract is exit 3 with a message, never a traceback
        say(f"failed: {type(err).__name__}: {err}")
        if os.environ.get("DMM_DEBUG"):
            raise
        return EXIT_FAILURE
    for path in written:
        print(path)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
