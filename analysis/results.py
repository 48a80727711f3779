"""Load a DMM results directory (DESIGN.md §2.2) into pandas DataFrames.

    from results import load_results
    run = load_results("results/two-paths-failover")
    run.sessions[run.sessions.completed].groupby("stack").size()

Types are fixed here, not guessed per file, so that a header-only file, a column that happens to be all
empty, or a workload named "NA" all come back with the same dtypes as a full run:

- numbers: float64; integer columns (session, port, rule, policy_version, bytes_*, failures) are int64 when
  every value is present and float64 with NaN otherwise (the usual pandas convention). Unparseable numbers
  become NaN.
- booleans (completed, healthy): bool; "1"/"true"/"yes" are True, anything else (0, empty) is False.
- text: object; an empty field is NaN, so `df["stack"].isna()` (not `df.stack`: DataFrame.stack is a method) finds sessions that never got a stack.

What the columns measure is in the README ("What the figures measure"); in short: `bytes_delivered` arrived
(TCP: acknowledged by the server plus read by the client; UDP: datagrams the receiver got), `bytes_sent` was
offered; `end_s` is empty for a session still open at the end of the run; metrics.csv `goodput_estimate_mbps` (and
its older name `goodput_mbps`) is nRD's estimate from sampled sessions, not a measurement of the path.

Missing optional files (metrics.csv without nRD, events.csv, policy.jsonl, summary.json) give empty
DataFrames / an empty dict. A missing or unreadable directory, a missing sessions.csv, or a file that cannot
be parsed raises ResultsError naming the path. Columns a file lacks are added as NaN (logged); unknown extra
columns are kept.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

log = logging.getLogger("dmm.results")

SESSIONS_CSV = "sessions.csv"
METRICS_CSV = "metrics.csv"
EVENTS_CSV = "events.csv"
POLICY_JSONL = "policy.jsonl"
SUMMARY_JSON = "summary.json"

# Column name -> kind ("int", "float", "bool", "str"), in file order.
SESSIONS_COLUMNS = {
    "session": "int", "workload": "str", "node": "str", "dst": "str", "port": "int", "intent": "str",
    "stack": "str", "rule": "int", "policy_version": "int", "start_s": "float", "end_s": "float",
    "bytes_sent": "int", "bytes_received": "int", "completed": "bool", "error": "str",
    # measured where the data arrived (empty loss/owd/jitter for TCP)
    "bytes_delivered": "int", "loss": "float", "owd_ms": "float", "jitter_ms": "float",
    "attempts": "str",  # stacks nSocket considered and why each one was not it: `fast:connect-timeout;slow:ok`
}
# Columns added to a file after results were first written: a directory from before them simply lacks them (empty
# values, no warning), while a missing original column is worth a warning.
ADDED_COLUMNS = {"bytes_delivered", "loss", "owd_ms", "jitter_ms", "attempts", "goodput_estimate_mbps",
                 "capacity_estimate_mbps"}
METRICS_COLUMNS = {
    "time_s": "float", "stack": "str", "rtt_ms": "float", "goodput_mbps": "float", "loss": "float",
    "failures": "int", "healthy": "bool", "goodput_estimate_mbps": "float",
    "capacity_estimate_mbps": "float",  # highest backlogged sending rate in nRD's capacity window: a lower bound
}
EVENTS_COLUMNS = {"time_s": "float", "event": "str", "target": "str", "detail": "str"}
POLICY_COLUMNS = {"version": "int", "time_s": "float", "reason": "str", "rules": "object", "down": "object"}

_TRUE_WORDS = {"1", "true", "yes", "y", "t"}


class ResultsError(Exception):
    """The results directory or one of its files is missing or unreadable (message names the path)."""


@dataclass
class RunResults:
    """One run's results. Every DataFrame has the columns of its *_COLUMNS spec, even when empty."""

    path: str
    sessions: pd.DataFrame
    metrics: pd.DataFrame
    events: pd.DataFrame
    policy: pd.DataFrame
    summary: dict = field(default_factory=dict)

    @property
    def scenario(self) -> str:
        """Scenario name from summary.json, else the directory's name."""
        name = self.summary.get("scenario")
        if isinstance(name, str) and name:
            return name
        return os.path.basename(os.path.normpath(self.path)) or self.path

    @property
    def duration_s(self) -> float:
        """Run length: summary.json's duration_s, else the latest time seen in any file (at least 1 s)."""
        duration = _as_float(self.summary.get("duration_s"))
        if duration is not None and duration > 0:
            return duration
        times = [self.sessions.start_s, self.sessions.end_s, self.metrics.time_s, self.events.time_s,
                 self.policy.time_s]
        finite = [t[np.isfinite(t)] for t in times]
        latest = max((float(t.max()) for t in finite if len(t)), default=0.0)
        return latest if latest > 0 else 1.0

    def stacks(self) -> list[str]:
        """Every stack name mentioned by sessions, metrics or the summary, sorted (stable colours in plots)."""
        names = set(self.sessions["stack"].dropna()) | set(self.metrics["stack"].dropna())
        for entry in self.summary.get("stacks") or []:
            if isinstance(entry, dict) and isinstance(entry.get("stack"), str):
                names.add(entry["stack"])
        return sorted(str(n) for n in names)


def delivered_bytes(sessions: pd.DataFrame) -> pd.Series:
    """Bytes each session delivered (sessions.csv `bytes_delivered`: what arrived, DESIGN.md §2.2); NaN where it is
    not known: a dmm-emu `kind: command` run, whose program's data path is the kernel's, has every bytes column
    empty. Results written before that column existed only have what was offered, bytes_sent + bytes_received:
    used then, with a warning, since for lossy paths (UDP above all) it overstates what arrived."""
    unknown = sessions["bytes_sent"].isna() & sessions["bytes_received"].isna()
    if "bytes_delivered" in sessions and sessions["bytes_delivered"].notna().any():
        delivered = sessions["bytes_delivered"].clip(lower=0).astype(float)
        return delivered.where(~unknown | delivered.notna(), np.nan)
    if len(sessions) and not unknown.all():
        log.warning("no bytes_delivered in these results (written by an older dmm-sim): using bytes offered "
                    "(bytes_sent + bytes_received) instead")
    offered = (sessions["bytes_sent"].fillna(0).clip(lower=0) + sessions["bytes_received"].fillna(0).clip(lower=0)
               ).astype(float)
    return offered.where(~unknown, np.nan)


def bytes_unknown(sessions: pd.DataFrame) -> pd.Series:
    """True for the sessions whose bytes are not known (dmm-emu's command runs: every bytes column empty)."""
    return sessions["bytes_sent"].isna() & sessions["bytes_received"].isna() & (
        sessions["bytes_delivered"].isna() if "bytes_delivered" in sessions else True)


def load_results(path: str) -> RunResults:
    """Load every file of the results directory at `path`. Raises ResultsError when it is not one."""
    if not os.path.exists(path):
        raise ResultsError(f"{path}: no such results directory")
    if not os.path.isdir(path):
        raise ResultsError(f"{path}: not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ResultsError(f"{path}: results directory is not readable")
    if not os.path.isfile(os.path.join(path, SESSIONS_CSV)):
        raise ResultsError(f"{path}: not a results directory (no {SESSIONS_CSV})")
    return RunResults(
        path=path,
        sessions=load_sessions(path),
        metrics=load_metrics(path),
        events=load_events(path),
        policy=load_policy(path),
        summary=load_summary(path),
    )


def load_sessions(path: str) -> pd.DataFrame:
    return _load_csv(os.path.join(path, SESSIONS_CSV), SESSIONS_COLUMNS, required=True)


def load_metrics(path: str) -> pd.DataFrame:
    """nRD's estimates; empty when nRD was disabled (file absent or header only)."""
    return _load_csv(os.path.join(path, METRICS_CSV), METRICS_COLUMNS, required=False)


def load_events(path: str) -> pd.DataFrame:
    return _load_csv(os.path.join(path, EVENTS_CSV), EVENTS_COLUMNS, required=False)


def load_policy(path: str) -> pd.DataFrame:
    """One row per policy version, sorted by version. Malformed lines are skipped (logged), since a run that
    died mid-write may leave a truncated last line."""
    file = os.path.join(path, POLICY_JSONL)
    rows = []
    for number, line in enumerate(_read_lines(file), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as err:
            log.warning("%s:%d: skipping malformed policy line (%s)", file, number, err)
            continue
        if not isinstance(obj, dict):
            log.warning("%s:%d: skipping policy line that is not a JSON object", file, number)
            continue
        rows.append({  # scalars as text, like a CSV field, so they go through the same conversion
            "version": _as_text(obj.get("version")),
            "time_s": _as_text(obj.get("time_s")),
            "reason": _as_text(obj.get("reason")),
            "rules": obj.get("rules") if isinstance(obj.get("rules"), list) else [],
            "down": obj.get("down") if isinstance(obj.get("down"), list) else [],
        })
    frame = pd.DataFrame(rows, columns=list(POLICY_COLUMNS))
    frame = _apply_types(frame, POLICY_COLUMNS)
    if len(frame):
        frame = frame.sort_values(["version", "time_s"], kind="stable").reset_index(drop=True)
    return frame


def load_summary(path: str) -> dict:
    """summary.json as a dict; {} when absent."""
    file = os.path.join(path, SUMMARY_JSON)
    if not os.path.exists(file):
        return {}
    try:
        with open(file, encoding="utf-8") as handle:
            obj = json.load(handle)
    except (OSError, ValueError) as err:
        raise ResultsError(f"{file}: cannot read summary ({err})") from err
    if not isinstance(obj, dict):
        raise ResultsError(f"{file}: summary is not a JSON object")
    return obj


# --- helpers ---------------------------------------------------------------------------------------------

def _read_lines(file: str) -> list[str]:
    if not os.path.exists(file):
        return []
    try:
        with open(file, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ResultsError(f"{file}: cannot read ({err})") from err


def _load_csv(file: str, columns: dict[str, str], required: bool) -> pd.DataFrame:
    if not os.path.exists(file):
        if required:
            raise ResultsError(f"{file}: missing")
        return _apply_types(pd.DataFrame(columns=list(columns)), columns)
    try:
        # Text columns stay text and only an empty field is missing ("NA" is a name); pandas' C parser reads
        # the numeric columns, and _convert repairs any it could not.
        text_columns = {name: str for name, kind in columns.items() if kind == "str"}
        frame = pd.read_csv(file, dtype=text_columns, keep_default_na=False, na_values=[""],
                            skipinitialspace=True)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame(columns=list(columns))  # zero bytes: not even a header
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise ResultsError(f"{file}: cannot parse ({err})") from err
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if any(c not in ADDED_COLUMNS for c in missing):
        log.warning("%s: missing column(s) %s, treated as empty", file,
                    ", ".join(c for c in missing if c not in ADDED_COLUMNS))
    for name in missing:
        frame[name] = np.nan
    ordered = list(columns) + [c for c in frame.columns if c not in columns]
    return _apply_types(frame[ordered], columns)


def _apply_types(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    frame = frame.copy()
    for name, kind in columns.items():
        frame[name] = _convert(frame[name], kind)
    return frame.reset_index(drop=True)


def _convert(series: pd.Series, kind: str) -> pd.Series:
    """A column as parsed -> the column's type. The fast path is a column pandas already parsed as numbers;
    text goes through the slower per-value path (runs have 10^5+ sessions)."""
    if kind == "object":
        return series.astype(object)
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if kind == "str":
        text = series.astype(object)  # read_csv already dropped leading spaces; names are not stripped further
        return text.mask(text == "")
    if kind == "bool":
        if numeric:
            return (series == 1).astype(bool)
        text = series.astype(str).str.strip().str.lower()
        return text.isin(_TRUE_WORDS).astype(bool)
    if numeric:
        numbers = series.astype("float64")
    else:
        numbers = pd.to_numeric(series.astype(str).str.strip(), errors="coerce").astype("float64")
    if kind == "int" and numbers.notna().all() and np.all(np.isfinite(numbers)) \
            and np.all(numbers == np.floor(numbers)):
        return numbers.astype("int64")
    return numbers


def _as_text(value) -> str:
    """A JSON scalar as the text a CSV field would hold ("" for null or a missing key)."""
    if value is None or isinstance(value, bool):
        return ""
    return value if isinstance(value, str) else repr(value)


def _as_float(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
