"""Where simulation and emulation of the same scenario agree and where they part (DESIGN.md §2.6).

    from compare import compare
    result = compare("results/quickstart", ["emu/quickstart-1", "emu/quickstart-2"])
    result.verdict                   # "agree", "diverge" or "invalid emulation"
    print(result.report())           # the table dmm-compare prints
    result.table()                   # the same as a DataFrame; result.to_dict() as dmm-compare --json
    result.plot("out/")              # session_share.png, goodput.png, nrd_estimates.png

Both worlds write the same results directory (DESIGN.md §2.2); dmm-emu adds `emu.json` saying how faithful its
run was. The figures, each computed in every world from that world's own files:

completion   per window (below) and workload, the median completion time over ALL its sessions that started in
             the window: Kaplan–Meier, unfinished sessions censored at their age at the end of the run, failed ones
             never complete (completion.py); "not reached" when half never complete. Error relative to the
             simulation: (emu - sim) / sim.
goodput      per window and workload, the median over its COMPLETED sessions started in the window of each
             session's delivered rate, bytes_delivered / (end_s - start_s), in Mbit/s (sessions that did not
             complete, or took no time, are left out). Error relative to the simulation.
             Why per window: an event that moves new sessions to another path splits a workload's sessions into
             two modes, and a median over the whole run then sits on the edge between them — it jumps from one
             mode to the other when a handful of sessions move (quickstart's RPC goodput: 1.44 Mbit/s for seed 1,
             0.55 for seed 2 of the same simulation). Within a window the sessions share a policy and a path.
             A workload gets a row in a window where some world started sessions of it.
share        per window between scenario events and per stack, the stack's share of the sessions that STARTED in
             the window (start_s), over every session that started in it — a session that got no stack counts in
             the denominator and, when there are any, as the pseudo-stack "(no stack)". Windows: [0, e1), [e1, e2),
             ..., [en, duration], e1..en the distinct times of the scenario events in events.csv (`link`, `stack`,
             `nrd` rows; the orchestrators' `local_health` rows are reactions, not events). Absolute difference.
switch_time  per scenario event, the time from the event to the first policy version (policy.jsonl) published at
             or after it, before the next event, whose decision differs from the one in force just before the
             event. A decision is the rules' ranked `use` lists together with the `down` list (a stack marked
             down moves sessions as surely as a re-ranking). "no switch" when there is none. Difference in
             seconds; tolerance one nRD period (nrd.period of the simulation's scenario.yaml copy, 0.5 s when it
             cannot be read).
agreement    decision agreement: the fraction of time bins (1 s, over [0, the simulation's duration)) in which the
             most-used stack for new sessions is the same in both worlds (ties: the set of the most-used stacks
             must be equal). Bins where neither world started a session are left out; a bin where only one did
             disagrees. Reported; judged only when a tolerance `agreement` (the least fraction) is given.
nRD estimates, per window and stack, the median of nRD's RTT, goodput estimate, capacity estimate and loss in
             metrics.csv: reported side by side, never judged (they are what the two worlds measured, not what
             they decided).

Each world's event times are its own (an emulator applies an event a little late in real time) when its events
list the same scenario events as the simulation's; otherwise the simulation's times are used and a note says so.

Verdict per figure. One emulation run: the figure agrees when |emu - sim| <= tolerance (relative figures:
|emu - sim| <= tolerance * |sim|). Several runs (repeats of one scenario): the emulation's figure is the mean over
the runs, with a 95 % Student-t interval mean ± t(0.975, n-1) * sd / sqrt(n); the figure agrees when the
simulation's value lies inside that interval, and otherwise when it is within the tolerance of the mean. Values
that are not numbers: a figure "not reached" / "no switch" in both worlds agrees, in one only it diverges; a figure
with no data in either world is "no data" (not judged), with data in one world only it diverges; runs that
disagree among themselves on whether there is a value diverge.

Overall: "agree" when every judged figure agrees and no emulation run says `valid: false`; "invalid emulation" when
a run does (its figures are still reported); otherwise "diverge". A run without emu.json has no fidelity
information: it neither blocks nor vouches for the verdict (a note says so).

Bad input raises CompareInputError (a ValueError): a directory that is missing, not a directory, or not a
results directory; results of two different scenarios (summary.json `scenario`, else scenario.yaml `name:`); an
unreadable emu.json; a bad tolerance.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

if __package__:  # imported as dmm.analysis.compare
    from . import completion
    from .results import ResultsError, RunResults, bytes_unknown, delivered_bytes, load_results
else:  # run as a script, or imported from the analysis directory
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import completion  # noqa: E402
    from results import ResultsError, RunResults, bytes_unknown, delivered_bytes, load_results  # noqa: E402

__all__ = ["Comparison", "CompareInputError", "Figure", "Tolerances", "World", "compare", "parse_tolerances"]

EMU_JSON = "emu.json"
SCENARIO_COPY = "scenario.yaml"
DEFAULT_NRD_PERIOD_S = 0.5        # the scenario's default nrd.period
SCENARIO_EVENT_KINDS = ("link", "stack", "nrd")  # events.csv rows that are the scenario's `events:`
NO_STACK = "(no stack)"           # sessions that got no stack, as a pseudo-stack in the shares
AGREEMENT_BIN_S = 1.0

AGREE, DIVERGE, NOT_JUDGED, NO_DATA = "agree", "diverge", "not judged", "no data"
VERDICT_AGREE, VERDICT_DIVERGE, VERDICT_INVALID = "agree", "diverge", "invalid emulation"

# nRD's estimates in metrics.csv: (column, fallback column for older files, label, unit)
ESTIMATES = [("rtt_ms", None, "RTT", "ms"),
             ("goodput_estimate_mbps", "goodput_mbps", "goodput estimate", "Mbit/s"),
             ("capacity_estimate_mbps", None, "capacity estimate", "Mbit/s"),
             ("loss", None, "loss", "")]

# Two-sided 95 % Student-t quantiles t(0.975, df) for df = 1..30; beyond, a Cornish–Fisher expansion.
_T975 = [12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010, 2.1788,
         2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595,
         2.0555, 2.0518, 2.0484, 2.0452, 2.0423]
_Z975 = 1.959964
_SLACK = 1e-9  # floating-point slack in "within tolerance" (10.5 - 10.0 must be within 0.5)


class CompareInputError(ValueError):
    """Bad input to a comparison (dmm-compare's exit code 2); the message names the problem."""


# --- tolerances -----------------------------------------------------------------------------------------------

@dataclass
class Tolerances:
    """What each figure may differ by. goodput and completion: relative (0.1 = 10 % of the simulation's value);
    share: absolute (0.1 = ten percentage points); switch time: `switch_time_s` seconds, or when None
    `switch_time_periods` nRD periods; agreement: the least fraction of agreeing bins, None = not judged."""

    goodput: float = 0.10
    completion: float = 0.10
    share: float = 0.10
    switch_time_s: Optional[float] = None
    switch_time_periods: float = 1.0
    agreement: Optional[float] = None

    def switch_time(self, nrd_period_s: float) -> float:
        return self.switch_time_s if self.switch_time_s is not None else self.switch_time_periods * nrd_period_s

    def switch_time_text(self, nrd_period_s: float) -> str:
        seconds = _format_plain_seconds(self.switch_time(nrd_period_s))
        if self.switch_time_s is not None:
            return f"±{seconds}"
        periods = _format_number(self.switch_time_periods)
        return f"±{seconds} ({periods} nRD period{'' if self.switch_time_periods == 1 else 's'})"

    def to_dict(self, nrd_period_s: float) -> dict:
        return {"goodput": self.goodput, "completion": self.completion, "share": self.share,
                "switch_time_s": self.switch_time(nrd_period_s),
                "switch_time_periods": None if self.switch_time_s is not None else self.switch_time_periods,
                "agreement": self.agreement}


TOLERANCE_KEYS = ("goodput", "completion", "switch_time", "share", "agreement")

ToleranceSpec = Union[None, Tolerances, Mapping[str, object], Sequence[str]]


def parse_tolerances(spec: ToleranceSpec) -> Tolerances:
    """Tolerances from None (the defaults), a Tolerances, a {key: value} mapping or ["key=value", ...] (the
    command line's). Values: goodput/completion `0.1` or `10%`; share `0.1`; switch_time `0.5`, `500ms`, `0.5s`,
    `1period`, `2periods`; agreement `0.9` or `90%`. Raises CompareInputError naming the bad key or value."""
    if spec is None:
        return Tolerances()
    if isinstance(spec, Tolerances):
        return spec
    if isinstance(spec, str):
        spec = [spec]
    pairs = list(spec.items()) if isinstance(spec, Mapping) else [_split_tolerance(item) for item in spec]
    tolerances = Tolerances()
    for key, value in pairs:
        _set_tolerance(tolerances, str(key).strip(), value)
    return tolerances


def _split_tolerance(item: str) -> tuple[str, str]:
    key, sep, value = str(item).partition("=")
    if not sep or not key.strip():
        raise CompareInputError(f"--tolerance {item!r}: expected key=value with key one of "
                                f"{', '.join(TOLERANCE_KEYS)}")
    return key.strip(), value.strip()


def _set_tolerance(tolerances: Tolerances, key: str, value) -> None:
    if key in ("goodput", "completion"):
        setattr(tolerances, key, _parse_fraction(key, value, upper=None))
    elif key == "share":
        tolerances.share = _parse_fraction(key, value, upper=1.0)
    elif key == "agreement":
        tolerances.agreement = _parse_fraction(key, value, upper=1.0)
    elif key == "switch_time":
        periods = _parse_periods(value)
        if periods is not None:
            tolerances.switch_time_s, tolerances.switch_time_periods = None, periods
        else:
            tolerances.switch_time_s = _parse_seconds_tolerance(value)
    else:
        raise CompareInputError(f"--tolerance {key}={value}: unknown key {key!r} (known: "
                                f"{', '.join(TOLERANCE_KEYS)})")


def _parse_fraction(key: str, value, upper: Optional[float]) -> float:
    text = str(value).strip()
    try:
        number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise CompareInputError(f"--tolerance {key}={value}: not a number (write e.g. {key}=0.1 or "
                                f"{key}=10%)") from None
    if not math.isfinite(number) or number < 0 or (upper is not None and number > upper):
        bound = f"between 0 and {_format_number(upper)}" if upper is not None else "0 or more"
        raise CompareInputError(f"--tolerance {key}={value}: must be {bound}")
    return number


_PERIODS = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*periods?\s*$")


def _parse_periods(value) -> Optional[float]:
    match = _PERIODS.match(str(value))
    if not match:
        return None
    periods = float(match.group(1))
    if periods < 0:
        raise CompareInputError(f"--tolerance switch_time={value}: must be 0 or more")
    return periods


def _parse_seconds_tolerance(value) -> float:
    seconds = parse_duration_s(value)
    if seconds is None or seconds < 0:
        raise CompareInputError(f"--tolerance switch_time={value}: expected seconds (0.5, 500ms, 0.5s) or nRD "
                                "periods (1period, 2periods)")
    return seconds


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ns|us|µs|ms|s|m|min|h)?\s*$")
_DURATION_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0,
                    "h": 3600.0, None: 1.0}


def parse_duration_s(value) -> Optional[float]:
    """`500ms`, `0.5s`, `2m`, `0.5` (seconds) or a number -> seconds; None when it is not a duration."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    match = _DURATION.match(str(value))
    if not match:
        return None
    return float(match.group(1)) * _DURATION_UNIT_S[match.group(2)]


# --- the two worlds -----------------------------------------------------------------------------------------

@dataclass
class Fidelity:
    """What a run's emu.json says: `known` False when there is none (a simulation, or an emulator that wrote
    none); else `valid` and the `reasons` it gave."""

    known: bool = False
    valid: Optional[bool] = None
    reasons: list = field(default_factory=list)

    @property
    def text(self) -> str:
        if not self.known:
            return "no emu.json: no fidelity information"
        if self.valid:
            return "valid"
        return "INVALID" + (f" ({'; '.join(str(r) for r in self.reasons)})" if self.reasons else "")


@dataclass
class ScenarioEvent:
    time_s: float
    kind: str
    target: str
    detail: str

    @property
    def identity(self) -> tuple:
        return (self.kind, self.target, self.detail)

    def label(self) -> str:
        words = [w for w in (self.kind, self.target if self.target != self.kind else "", self.detail) if w]
        return " ".join(words)


@dataclass
class World:
    """One results directory: its data, what scenario it ran, its nRD period and (emulation) fidelity."""

    path: str
    run: RunResults = field(repr=False)
    scenario_name: Optional[str]
    nrd_period_s: Optional[float]
    fidelity: Fidelity
    events: list = field(default_factory=list)  # ScenarioEvent, by time

    @property
    def duration_s(self) -> float:
        return self.run.duration_s

    @property
    def seed(self):
        return self.run.summary.get("seed")

    @property
    def partial(self) -> bool:
        return bool(self.run.summary.get("partial"))

    @property
    def overrides(self) -> list:
        return list((self.run.summary.get("provenance") or {}).get("overrides") or [])


def load_world(path: str, read_fidelity: bool) -> World:
    """Load a results directory; CompareInputError when it is not one."""
    try:
        run = load_results(path)
    except ResultsError as err:
        raise CompareInputError(str(err)) from None
    copy = read_scenario_copy(path)
    return World(path=path, run=run, scenario_name=_scenario_name(run, copy),
                 nrd_period_s=_nrd_period_s(copy), fidelity=read_fidelity_file(path) if read_fidelity else Fidelity(),
                 events=scenario_events(run))


def read_scenario_copy(path: str) -> Optional[dict]:
    """The results directory's scenario.yaml as a dict; None when absent or unreadable (it is only needed for
    the scenario's name and nRD period, which have fallbacks)."""
    file = os.path.join(path, SCENARIO_COPY)
    try:
        with open(file, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        import yaml  # python3-yaml when installed; without it, the two fields needed are read by hand
    except ImportError:
        return _scenario_fields_without_yaml(text)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return document if isinstance(document, dict) else None


def _scenario_fields_without_yaml(text: str) -> dict:
    """`name` and `nrd.period` from the block/flow style dmm-sim writes, for interpreters without PyYAML."""
    fields: dict = {}
    if match := re.search(r"^name:\s*['\"]?([^'\"#\n]+?)['\"]?\s*$", text, re.M):
        fields["name"] = match.group(1)
    if match := re.search(r"^nrd:(.*?)(?=^\S|\Z)", text, re.M | re.S):
        if period := re.search(r"\bperiod:\s*['\"]?([0-9.]+\s*[a-zµ]*)", match.group(1)):
            fields["nrd"] = {"period": period.group(1)}
        else:
            fields["nrd"] = {}
    return fields


def _scenario_name(run: RunResults, copy: Optional[dict]) -> Optional[str]:
    name = run.summary.get("scenario")
    if isinstance(name, str) and name:
        return name
    if copy and isinstance(copy.get("name"), str) and copy["name"]:
        return copy["name"]
    return None


def _nrd_period_s(copy: Optional[dict]) -> Optional[float]:
    """nrd.period of the scenario copy; the scenario default when the copy has nrd without a period; None
    when there is no copy to read."""
    if copy is None:
        return None
    nrd = copy.get("nrd")
    if not isinstance(nrd, dict) or "period" not in nrd:
        return DEFAULT_NRD_PERIOD_S
    period = parse_duration_s(nrd["period"])
    return period if period is not None and period > 0 else None


def read_fidelity_file(path: str) -> Fidelity:
    """emu.json's `valid` and `reasons`; Fidelity() (unknown) when the file is absent."""
    file = os.path.join(path, EMU_JSON)
    if not os.path.exists(file):
        return Fidelity()
    try:
        with open(file, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CompareInputError(f"{file}: cannot read ({err})") from None
    if not isinstance(document, dict) or not isinstance(document.get("valid"), bool):
        raise CompareInputError(f"{file}: not an emulation report (it needs \"valid\": true or false)")
    reasons = document.get("reasons") or []
    if not isinstance(reasons, list):
        reasons = [reasons]
    return Fidelity(known=True, valid=document["valid"], reasons=[str(r) for r in reasons])


def scenario_events(run: RunResults) -> list:
    """The scenario's events as applied (events.csv rows of kind link/stack/nrd), by time."""
    events = run.events
    rows = events[events.event.isin(SCENARIO_EVENT_KINDS) & np.isfinite(events.time_s.to_numpy(float))]
    found = [ScenarioEvent(float(r.time_s), str(r.event), _text(r.target), _text(r.detail))
             for r in rows.itertuples()]
    return sorted(found, key=lambda e: e.time_s)


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def check_same_scenario(sim: World, emus: Sequence[World]) -> list[str]:
    """CompareInputError when two directories ran different scenarios; notes for smaller differences that
    explain a divergence without forbidding the comparison (overrides, durations, nRD periods)."""
    notes = []
    for emu in emus:
        if sim.scenario_name and emu.scenario_name and sim.scenario_name != emu.scenario_name:
            raise CompareInputError(f"{sim.path} is scenario '{sim.scenario_name}' but {emu.path} is scenario "
                                    f"'{emu.scenario_name}': results of different scenarios cannot be compared")
        if not emu.scenario_name or not sim.scenario_name:
            notes.append(f"{emu.path if not emu.scenario_name else sim.path}: no scenario name (no summary.json or "
                         "scenario.yaml): cannot check that both ran the same scenario")
        if emu.overrides != sim.overrides:
            notes.append(f"{emu.path}: run with {_overrides_text(emu.overrides)}, the simulation with "
                         f"{_overrides_text(sim.overrides)}")
        if not math.isclose(emu.duration_s, sim.duration_s, rel_tol=1e-6, abs_tol=1e-6):
            notes.append(f"{emu.path}: ran {emu.duration_s:g} s, the simulation {sim.duration_s:g} s")
        if emu.nrd_period_s is not None and sim.nrd_period_s is not None and \
                not math.isclose(emu.nrd_period_s, sim.nrd_period_s):
            notes.append(f"{emu.path}: nrd.period {emu.nrd_period_s:g} s, the simulation's {sim.nrd_period_s:g} s")
    for world in [sim, *emus]:
        if world.partial:
            notes.append(f"{world.path}: an interrupted run (summary.json partial): its figures cover part of "
                         "the scenario")
    return notes


def _overrides_text(overrides: Sequence[str]) -> str:
    return " ".join(f"--set {edit}" for edit in overrides) if overrides else "no --set"


# --- what each world measured --------------------------------------------------------------------------------

def workloads(worlds: Iterable[World]) -> list[str]:
    names = set()
    for world in worlds:
        names |= set(world.run.sessions.workload.dropna().astype(str))
    return sorted(names)


def sessions_of(run: RunResults, workload: str) -> pd.DataFrame:
    return run.sessions[run.sessions.workload == workload]


def delivered_rates_mbps(run: RunResults, workload: Optional[str] = None) -> np.ndarray:
    """Each completed session's delivered rate, bytes_delivered * 8 / (end_s - start_s), in Mbit/s (sessions
    that took no measurable time have no rate and are left out)."""
    return delivered_rates_of(run.sessions if workload is None else sessions_of(run, workload))


def delivered_rates_of(sessions: pd.DataFrame) -> np.ndarray:
    done = sessions[sessions.completed.astype(bool)]
    lifetime = (done.end_s - done.start_s).to_numpy(float)
    delivered = delivered_bytes(done).to_numpy(float)
    # No measurable time, or bytes not known (a command run): no rate, rather than a made-up one.
    measurable = np.isfinite(lifetime) & (lifetime > 0) & np.isfinite(delivered)
    return delivered[measurable] * 8 / lifetime[measurable] / 1e6


@dataclass
class Window:
    """[start_s, end_s) between scenario events (the last one closed: [start_s, end_s])."""

    index: int
    start_s: float
    end_s: float
    last: bool

    def label(self) -> str:
        close = "]" if self.last else ")"
        return f"[{_format_plain_seconds(self.start_s)}, {_format_plain_seconds(self.end_s)}{close}"

    def contains(self, times: np.ndarray) -> np.ndarray:
        upper = times <= self.end_s if self.last else times < self.end_s
        return (times >= self.start_s) & upper


def event_groups(events: Sequence[ScenarioEvent], duration_s: float) -> list[list[int]]:
    """Indices of the simulation's events grouped by distinct time inside (0, duration): each group starts a
    window. Events at time 0 or at/after the end start none."""
    groups: list[list[int]] = []
    last_time = None
    for index, event in enumerate(events):
        if not 0 < event.time_s < duration_s:
            continue
        if last_time is not None and math.isclose(event.time_s, last_time, abs_tol=1e-9):
            groups[-1].append(index)
        else:
            groups.append([index])
            last_time = event.time_s
    return groups


def world_windows(boundaries: Sequence[float], duration_s: float) -> list[Window]:
    edges = [0.0, *boundaries, duration_s]
    return [Window(i, edges[i], edges[i + 1], last=(i == len(edges) - 2)) for i in range(len(edges) - 1)]


def aligned_event_times(sim: World, world: World) -> tuple[list[float], Optional[str]]:
    """The world's own time of each of the simulation's events when it lists the same scenario events (same
    kinds, targets and details, in order); else the simulation's times and a note."""
    if [e.identity for e in world.events] == [e.identity for e in sim.events]:
        return [e.time_s for e in world.events], None
    return ([e.time_s for e in sim.events],
            f"{world.path}: its events.csv lists other scenario events than the simulation's "
            f"({len(world.events)} vs {len(sim.events)}): the simulation's event times are used for its windows "
            "and switch times")


def stack_shares(run: RunResults, window: Window, stacks: Sequence[str]) -> dict[str, float]:
    """Each stack's share of the sessions started in the window (nan for every stack when none started)."""
    sessions = run.sessions
    started = sessions[window.contains(sessions.start_s.to_numpy(float))]
    if not len(started):
        return {stack: math.nan for stack in stacks}
    carried = started["stack"].fillna(NO_STACK).astype(str)
    counts = carried.value_counts()
    return {stack: float(counts.get(stack, 0)) / len(started) for stack in stacks}


def share_stacks(worlds: Iterable[World]) -> list[str]:
    """Stacks for the share figures: every stack a session used, plus "(no stack)" when some session got none."""
    names, unplaced = set(), False
    for world in worlds:
        stack = world.run.sessions["stack"]
        names |= set(stack.dropna().astype(str))
        unplaced = unplaced or bool(stack.isna().any())
    return sorted(names) + ([NO_STACK] if unplaced else [])


def policy_decision(row) -> tuple:
    """What a policy version decides: every rule's ranked `use` list, and the stacks marked down."""
    rules = row.rules if isinstance(row.rules, list) else []
    ranking = tuple(tuple(str(s) for s in (rule.get("use") or [])) if isinstance(rule, dict) else ()
                    for rule in rules)
    down = tuple(sorted(str(s) for s in (row.down if isinstance(row.down, list) else [])))
    return ranking, down


def switch_time_s(run: RunResults, event_s: float, until_s: float) -> float:
    """Seconds from the event to the first policy version published in [event_s, until_s) whose decision differs
    from the one in force just before the event; inf when there is none."""
    policy = run.policy[np.isfinite(run.policy.time_s.to_numpy(float))].sort_values(["time_s", "version"],
                                                                                      kind="stable")
    if not len(policy):
        return math.inf
    before = policy[policy.time_s < event_s]
    in_force = policy_decision(before.iloc[-1] if len(before) else policy.iloc[0])
    after = policy[(policy.time_s >= event_s) & (policy.time_s < until_s)]
    for row in after.itertuples():
        if policy_decision(row) != in_force:
            return float(row.time_s) - event_s
    return math.inf


def most_used_stacks(run: RunResults, start_s: float, end_s: float) -> frozenset:
    """The stack(s) carrying most of the sessions started in [start_s, end_s) (all of them on a tie; "(no
    stack)" counts as one); empty when none started."""
    starts = run.sessions.start_s.to_numpy(float)
    started = run.sessions[(starts >= start_s) & (starts < end_s)]
    if not len(started):
        return frozenset()
    counts = started["stack"].fillna(NO_STACK).astype(str).value_counts()
    return frozenset(counts[counts == counts.max()].index)


def decision_agreement(sim: RunResults, emu: RunResults, duration_s: float,
                       bin_s: float = AGREEMENT_BIN_S) -> tuple[int, int]:
    """(bins that agree, bins compared) over [0, duration_s) in bins of bin_s. A bin is compared when both worlds
    started sessions in it: one where only one world did holds no decision of the other to agree with (sessions
    back to back start at different times once their durations differ)."""
    agree = compared = 0
    for k in range(int(math.ceil(duration_s / bin_s - 1e-9))):
        start, end = k * bin_s, min((k + 1) * bin_s, duration_s)
        in_sim, in_emu = most_used_stacks(sim, start, end), most_used_stacks(emu, start, end)
        if not in_sim or not in_emu:
            continue
        compared += 1
        agree += int(in_sim == in_emu)
    return agree, compared


def estimate_medians(run: RunResults, window: Window, stack: str) -> dict[str, float]:
    """Median of each of nRD's estimates for the stack over the metrics rows in the window (nan: none)."""
    metrics = run.metrics
    rows = metrics[(metrics["stack"] == stack) & window.contains(metrics.time_s.to_numpy(float))]
    medians = {}
    for column, fallback, _, _ in ESTIMATES:
        values = rows[column].to_numpy(float)
        if fallback is not None and not np.isfinite(values).any():
            values = rows[fallback].to_numpy(float)
        values = values[np.isfinite(values)]
        medians[column] = float(np.median(values)) if len(values) else math.nan
    return medians


# --- judging a figure ----------------------------------------------------------------------------------------

@dataclass
class Figure:
    """One compared figure. `sim` is the simulation's value, `emu_runs` each emulation run's and `emu` their mean
    (inf: "never" — median not reached, no switch —; nan: no data). `error` is (emu - sim) / sim for relative
    figures, emu - sim otherwise. `interval` is the emulation runs' 95 % t-interval (two runs or more)."""

    kind: str                 # completion | goodput | share | switch_time | agreement
    label: str
    unit: str                 # "s", "Mbit/s", "" (a fraction)
    relative: bool
    sim: float
    emu_runs: list
    emu: float = math.nan
    interval: Optional[tuple] = None
    error: float = math.nan
    tolerance: Optional[float] = None
    tolerance_text: str = ""
    verdict: str = NOT_JUDGED
    reason: str = ""
    scope: dict = field(default_factory=dict)
    never_text: str = "never"       # what inf means for this figure
    missing_text: str = "no data"   # what nan means for this figure

    @property
    def judged(self) -> bool:
        return self.verdict in (AGREE, DIVERGE)


def t_quantile_975(df: int) -> float:
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975  # Cornish–Fisher: within 1e-4 of the exact quantile for df > 30
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def t_interval(values: Sequence[float]) -> tuple[float, float]:
    """95 % Student-t interval of the mean of `values` (at least two)."""
    data = np.asarray(values, float)
    half = t_quantile_975(len(data) - 1) * float(np.std(data, ddof=1)) / math.sqrt(len(data))
    mean = float(np.mean(data))
    return mean - half, mean + half


def _state(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    return "never" if math.isinf(value) else "value"


def judge(figure: Figure) -> Figure:
    """Fill in emu, interval, error and verdict from sim, emu_runs and tolerance (rules in the module doc)."""
    runs = [math.nan if v is None else float(v) for v in figure.emu_runs]
    states = [_state(v) for v in runs]
    if states and all(s == "value" for s in states):
        figure.emu = float(np.mean(runs))
        figure.interval = t_interval(runs) if len(runs) >= 2 else None
    elif len(set(states)) == 1:
        figure.emu = runs[0]
    mixed = len(set(states)) > 1
    sim_state, emu_state = _state(figure.sim), _state(figure.emu)
    if sim_state == emu_state == "value":
        figure.error = _difference(figure.sim, figure.emu, figure.relative)
    figure.verdict, figure.reason = _verdict(figure, sim_state, emu_state, mixed, states)
    return figure


def _difference(sim: float, emu: float, relative: bool) -> float:
    if not relative:
        return emu - sim
    if sim == 0:
        return 0.0 if emu == 0 else math.copysign(math.inf, emu)
    return (emu - sim) / abs(sim)


def _verdict(figure: Figure, sim_state: str, emu_state: str, mixed: bool, states: list) -> tuple[str, str]:
    if figure.tolerance is None:
        return NOT_JUDGED, "reported, not judged"
    if mixed:
        counts = ", ".join(f"{states.count(s)} {_state_word(figure, s)}" for s in ("value", "never", "missing")
                           if s in states)
        return DIVERGE, f"the emulation runs differ among themselves ({counts})"
    if sim_state == emu_state == "missing":
        return NO_DATA, f"{figure.missing_text} in either world"
    if sim_state == "missing" or emu_state == "missing":
        return DIVERGE, f"{figure.missing_text} in the {'simulation' if sim_state == 'missing' else 'emulation'} only"
    if sim_state == emu_state == "never":
        return AGREE, f"{figure.never_text} in either world"
    if sim_state == "never" or emu_state == "never":
        return DIVERGE, f"{figure.never_text} in the {'simulation' if sim_state == 'never' else 'emulation'} only"
    if figure.interval is not None and _inside(figure.sim, figure.interval):
        return AGREE, "inside the emulation runs' 95 % interval"
    outside = " and outside the emulation runs' 95 % interval" if figure.interval is not None else ""
    if _within(figure.sim, figure.emu, figure.tolerance, figure.relative):
        return AGREE, "within tolerance" + (" of the runs' mean" if figure.interval is not None else "")
    return DIVERGE, "outside tolerance" + outside


def _state_word(figure: Figure, state: str) -> str:
    return {"value": "with a value", "never": figure.never_text, "missing": figure.missing_text}[state]


def _inside(value: float, interval: tuple) -> bool:
    low, high = interval
    slack = _SLACK * max(1.0, abs(low), abs(high))
    return low - slack <= value <= high + slack


def _within(sim: float, emu: float, tolerance: float, relative: bool) -> bool:
    allowed = tolerance * abs(sim) if relative else tolerance
    return abs(emu - sim) <= allowed + _SLACK * max(1.0, abs(sim), abs(emu))


# --- the comparison ------------------------------------------------------------------------------------------

@dataclass
class Comparison:
    """Everything dmm-compare reports. `figures` in report order; `nrd_estimates` one row per window, stack and
    estimate (reported, not judged); `notes` what a reader should know about the inputs."""

    scenario: Optional[str]
    sim: World
    emus: list
    tolerances: Tolerances
    nrd_period_s: float
    windows: list
    events: list
    figures: list
    nrd_estimates: pd.DataFrame
    notes: list = field(default_factory=list)
    agreement_bin_s: float = AGREEMENT_BIN_S

    @property
    def figures_agree(self) -> bool:
        return all(f.verdict != DIVERGE for f in self.figures)

    @property
    def emulation_valid(self) -> Optional[bool]:
        """False when some run's emu.json says invalid; True when every run has one saying valid; None when
        some run has no emu.json and none is invalid."""
        if any(e.fidelity.known and not e.fidelity.valid for e in self.emus):
            return False
        return True if all(e.fidelity.known for e in self.emus) else None

    @property
    def verdict(self) -> str:
        if self.emulation_valid is False:
            return VERDICT_INVALID
        return VERDICT_AGREE if self.figures_agree else VERDICT_DIVERGE

    @property
    def agrees(self) -> bool:
        return self.verdict == VERDICT_AGREE

    @property
    def diverging(self) -> list:
        return [f for f in self.figures if f.verdict == DIVERGE]

    def table(self) -> pd.DataFrame:
        """One row per figure, as text: figure, sim, emu, error, tolerance, verdict (and why)."""
        rows = [{"figure": f.label, "sim": format_value(f, f.sim), "emu": format_emu(f),
                 "error": format_error(f), "tolerance": f.tolerance_text or "-",
                 "verdict": f.verdict, "why": f.reason} for f in self.figures]
        return pd.DataFrame(rows, columns=["figure", "sim", "emu", "error", "tolerance", "verdict", "why"])

    def report(self) -> str:
        return render_report(self)

    def to_dict(self) -> dict:
        return comparison_dict(self)

    def plot(self, out_dir: str) -> list[str]:
        return plot_comparison(self, out_dir)


def compare(sim_dir: str, emu_dirs: Union[str, Sequence[str]], tolerances: ToleranceSpec = None) -> Comparison:
    """Compare the simulation's results directory with one or more emulation runs of the same scenario.
    `tolerances`: None (defaults), a Tolerances, {key: value} or ["key=value", ...] (see parse_tolerances).
    Raises CompareInputError for bad input."""
    limits = parse_tolerances(tolerances)
    emu_dirs = [emu_dirs] if isinstance(emu_dirs, (str, os.PathLike)) else list(emu_dirs)
    if not emu_dirs:
        raise CompareInputError("no emulation results directory given")
    sim = load_world(os.fspath(sim_dir), read_fidelity=False)
    emus = [load_world(os.fspath(path), read_fidelity=True) for path in emu_dirs]
    notes = check_same_scenario(sim, emus)
    notes += [f"{e.path}: {e.fidelity.text}" for e in emus if not e.fidelity.known]
    period = sim.nrd_period_s
    if period is None:
        period = DEFAULT_NRD_PERIOD_S
        notes.append(f"{sim.path}: no readable {SCENARIO_COPY} with nrd.period: one nRD period taken as "
                     f"{_format_plain_seconds(period)}")
    groups = event_groups(sim.events, sim.duration_s)
    sim_windows = world_windows([sim.events[g[0]].time_s for g in groups], sim.duration_s)
    per_world = []
    for emu in emus:
        times, note = aligned_event_times(sim, emu)
        if note:
            notes.append(note)
        per_world.append((emu, times, world_windows([times[g[0]] for g in groups], emu.duration_s)))
    for name in command_workloads(w for w, _, _ in per_world):
        notes.append(f"workload {name}: its emulated sessions are programs' runs, whose bytes are not known: its "
                     "goodput is not compared (completion and shares are)")
    figures = (completion_figures(sim, sim_windows, per_world, limits)
               + goodput_figures(sim, sim_windows, per_world, limits)
               + share_figures(sim, sim_windows, per_world, limits)
               + switch_figures(sim, groups, per_world, limits, period)
               + [agreement_figure(sim, emus, limits)])
    return Comparison(scenario=sim.scenario_name, sim=sim, emus=emus, tolerances=limits, nrd_period_s=period,
                      windows=sim_windows, events=sim.events, figures=figures,
                      nrd_estimates=estimates_frame(sim, sim_windows, per_world), notes=notes)


def sessions_started_in(run: RunResults, workload: str, window: Window) -> pd.DataFrame:
    sessions = sessions_of(run, workload)
    return sessions[window.contains(sessions.start_s.to_numpy(float))]


def window_completion_median_s(run: RunResults, workload: str, window: Window) -> float:
    """Kaplan–Meier median completion time of the workload's sessions started in the window (nan: none)."""
    started = sessions_started_in(run, workload, window)
    return completion.completion_stats(started, run.duration_s).median_s if len(started) else math.nan


def window_goodput_median_mbps(run: RunResults, workload: str, window: Window) -> float:
    """Median delivered rate of the workload's completed sessions started in the window (nan: none)."""
    rates = delivered_rates_of(sessions_started_in(run, workload, window))
    return float(np.median(rates)) if len(rates) else math.nan


def _workload_windows(sim: World, sim_windows: Sequence[Window], per_world: Sequence):
    """(window, workload, each emulation run's own window) for every workload with sessions started in the
    window in some world."""
    for window in sim_windows:
        for name in workloads([sim, *(w for w, _, _ in per_world)]):
            own = [windows[window.index] for _, _, windows in per_world]
            if len(sessions_started_in(sim.run, name, window)) or any(
                    len(sessions_started_in(emu.run, name, w)) for (emu, _, _), w in zip(per_world, own)):
                yield window, name, own


def _window_scope(window: Window, name: str) -> dict:
    return {"workload": name, "window": window.index, "start_s": window.start_s, "end_s": window.end_s}


def _median_figures(sim: World, sim_windows: Sequence[Window], per_world: Sequence, *, kind: str, what: str,
                    unit: str, median, tolerance: float, **texts) -> list[Figure]:
    """One relative figure per window and workload: `median(run, workload, window)` in each world."""
    return [judge(Figure(kind=kind, label=f"{window.label()}: {name}: {what}", unit=unit, relative=True,
                         sim=median(sim.run, name, window),
                         emu_runs=[median(emu.run, name, w) for (emu, _, _), w in zip(per_world, own)],
                         tolerance=tolerance, tolerance_text=f"±{_format_number(tolerance * 100)} %",
                         scope=_window_scope(window, name), **texts))
            for window, name, own in _workload_windows(sim, sim_windows, per_world)]


def completion_figures(sim: World, sim_windows: Sequence[Window], per_world: Sequence,
                       limits: Tolerances) -> list[Figure]:
    return _median_figures(sim, sim_windows, per_world, kind="completion", what="completion median", unit="s",
                           median=window_completion_median_s, tolerance=limits.completion,
                           never_text="median not reached", missing_text="no sessions")


def goodput_figures(sim: World, sim_windows: Sequence[Window], per_world: Sequence,
                    limits: Tolerances) -> list[Figure]:
    figures = _median_figures(sim, sim_windows, per_world, kind="goodput", what="goodput median", unit="Mbit/s",
                              median=window_goodput_median_mbps, tolerance=limits.goodput,
                              missing_text="no completed sessions")
    # A command workload's emulated bytes are not known: no goodput to set beside the simulation's.
    unmeasured = set(command_workloads(w for w, _, _ in per_world))
    return [f for f in figures if f.scope.get("workload") not in unmeasured]


def command_workloads(worlds) -> list[str]:
    """Workloads some of whose sessions have no known bytes in some world (dmm-emu's `kind: command` runs)."""
    names = set()
    for world in worlds:
        sessions = world.run.sessions
        names.update(sessions[bytes_unknown(sessions)].workload.dropna().astype(str))
    return sorted(names)


def share_figures(sim: World, sim_windows: Sequence[Window], per_world: Sequence, limits: Tolerances) -> list:
    stacks = share_stacks([sim, *(w for w, _, _ in per_world)])
    figures = []
    for window in sim_windows:
        sim_shares = stack_shares(sim.run, window, stacks)
        emu_shares = [stack_shares(emu.run, windows[window.index], stacks) for emu, _, windows in per_world]
        for stack in stacks:
            if stack == NO_STACK and not any(v > 0 for v in [sim_shares[stack], *(s[stack] for s in emu_shares)]):
                continue  # "(no stack)" only where some world has a session without one
            figures.append(judge(Figure(
                kind="share", label=f"{window.label()}: share of new sessions on {stack}", unit="", relative=False,
                sim=sim_shares[stack], emu_runs=[shares[stack] for shares in emu_shares], tolerance=limits.share,
                tolerance_text=f"±{_format_number(limits.share)}",
                scope={"window": window.index, "start_s": window.start_s, "end_s": window.end_s, "stack": stack},
                missing_text="no new sessions")))
    return figures


def switch_figures(sim: World, groups: Sequence[list], per_world: Sequence, limits: Tolerances,
                   period_s: float) -> list[Figure]:
    figures = []
    for position, group in enumerate(groups):
        sim_until = sim.events[groups[position + 1][0]].time_s if position + 1 < len(groups) else sim.duration_s
        for index in group:
            event = sim.events[index]
            runs = []
            for emu, times, windows in per_world:
                runs.append(switch_time_s(emu.run, times[index], windows[position + 1].end_s))
            figures.append(judge(Figure(
                kind="switch_time", label=f"policy switch after {_format_plain_seconds(event.time_s)} "
                                          f"{event.label()}", unit="s", relative=False,
                sim=switch_time_s(sim.run, event.time_s, sim_until), emu_runs=runs,
                tolerance=limits.switch_time(period_s), tolerance_text=limits.switch_time_text(period_s),
                scope={"event": index, "time_s": event.time_s, "kind": event.kind, "target": event.target,
                       "detail": event.detail}, never_text="no switch")))
    return figures


def agreement_figure(sim: World, emus: Sequence[World], limits: Tolerances) -> Figure:
    """Decision agreement: not a value of each world but of each pair, so `sim` is nan and `emu` the mean
    fraction over the runs; judged (mean >= the tolerance) only when a tolerance is given."""
    counts = [decision_agreement(sim.run, emu.run, sim.duration_s) for emu in emus]
    fractions = [agree / compared if compared else math.nan for agree, compared in counts]
    figure = Figure(kind="agreement", label=f"decision agreement (most-used stack per {AGREEMENT_BIN_S:g} s bin)",
                    unit="", relative=False, sim=math.nan, emu_runs=fractions, tolerance=limits.agreement,
                    tolerance_text=f"≥{_format_number(limits.agreement)}" if limits.agreement is not None else "-",
                    scope={"bins": [{"agree": a, "compared": c} for a, c in counts], "bin_s": AGREEMENT_BIN_S},
                    missing_text="no new sessions")
    finite = [f for f in fractions if math.isfinite(f)]
    figure.emu = float(np.mean(finite)) if len(finite) == len(fractions) and finite else math.nan
    if limits.agreement is None:
        figure.verdict, figure.reason = NOT_JUDGED, "reported, not judged (--tolerance agreement=F judges it)"
    elif not math.isfinite(figure.emu):
        figure.verdict, figure.reason = NO_DATA, "no bin with new sessions in some run"
    elif figure.emu + _SLACK >= limits.agreement:
        figure.verdict, figure.reason = AGREE, "at least the tolerated fraction"
    else:
        figure.verdict, figure.reason = DIVERGE, "below the tolerated fraction"
    return figure


def estimates_frame(sim: World, sim_windows: Sequence[Window], per_world: Sequence) -> pd.DataFrame:
    """Per window, stack and estimate: the simulation's median and each emulation run's (mean over runs)."""
    stacks = sorted(set(sim.run.metrics["stack"].dropna().astype(str)).union(
        *(set(emu.run.metrics["stack"].dropna().astype(str)) for emu, _, _ in per_world)))
    rows = []
    for window in sim_windows:
        for stack in stacks:
            in_sim = estimate_medians(sim.run, window, stack)
            in_emu = [estimate_medians(emu.run, windows[window.index], stack) for emu, _, windows in per_world]
            for column, _, label, unit in ESTIMATES:
                runs = [m[column] for m in in_emu]
                finite = [v for v in runs if math.isfinite(v)]
                rows.append({"window": window.label(), "start_s": window.start_s, "end_s": window.end_s,
                             "stack": stack, "estimate": label, "column": column, "unit": unit,
                             "sim": in_sim[column], "emu": float(np.mean(finite)) if finite else math.nan,
                             "emu_runs": runs})
    return pd.DataFrame(rows, columns=["window", "start_s", "end_s", "stack", "estimate", "column", "unit", "sim",
                                       "emu", "emu_runs"])


# --- text ------------------------------------------------------------------------------------------------------

def _format_number(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"


def _format_plain_seconds(value: float) -> str:
    return f"{value:.6g} s"


def format_value(figure: Figure, value: float) -> str:
    state = _state(value)
    if state == "missing":
        return "-" if figure.kind == "agreement" else figure.missing_text
    if state == "never":
        return figure.never_text
    if figure.unit == "s":
        return completion.format_seconds(value) if figure.kind == "completion" else f"{value:.3f} s"
    if figure.unit == "Mbit/s":
        return f"{value:.3g} Mbit/s"
    return f"{value:.3f}"


def format_emu(figure: Figure) -> str:
    text = format_value(figure, figure.emu)
    runs = len(figure.emu_runs)
    if figure.kind == "agreement":
        bins = figure.scope.get("bins") or []
        if runs == 1 and bins:
            text += f" ({bins[0]['agree']}/{bins[0]['compared']} bins)"
    if runs > 1:
        if figure.interval is not None:
            low, high = figure.interval
            text += f" [95 % {format_value(figure, low)}, {format_value(figure, high)}]"
        text += f" (mean of {runs} runs)" if _state(figure.emu) == "value" else f" ({runs} runs)"
    return text


def format_error(figure: Figure) -> str:
    if not math.isfinite(figure.error):
        return "-" if math.isnan(figure.error) else ("+∞" if figure.error > 0 else "-∞")
    if figure.relative:
        return f"{figure.error * 100:+.1f} %"
    if figure.unit == "s":
        return f"{figure.error:+.3f} s"
    return f"{figure.error:+.3f}"


def render_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def render_report(result: Comparison) -> str:
    lines = [f"dmm-compare: scenario {result.scenario or '(unnamed)'}",
             f"  simulation: {result.sim.path} (seed {result.sim.seed}, {result.sim.duration_s:g} s)"]
    for index, emu in enumerate(result.emus, start=1):
        lines.append(f"  emulation {index}: {emu.path} (seed {emu.seed}, {emu.duration_s:g} s): "
                     f"{emu.fidelity.text}")
    lines.append("")
    table = result.table()
    lines += render_table([[r.figure, r.sim, r.emu, r.error, r.tolerance, _verdict_cell(r.verdict, r.why)]
                           for r in table.itertuples()],
                          ["figure", "sim", "emu", "error", "tolerance", "verdict"])
    lines += ["", *render_estimates(result), "", *definitions(result)]
    if result.notes:
        lines += ["", "notes:", *(f"  - {note}" for note in result.notes)]
    lines += ["", verdict_line(result)]
    return "\n".join(lines)


def _verdict_cell(verdict: str, why: str) -> str:
    return verdict.upper() + f" ({why})" if verdict == DIVERGE else verdict


def render_estimates(result: Comparison) -> list[str]:
    frame = result.nrd_estimates
    if not len(frame) or not (np.isfinite(frame.sim.to_numpy(float)).any()
                              or np.isfinite(frame.emu.to_numpy(float)).any()):
        return ["nRD estimates: none in either world (no metrics.csv)"]
    rows = []
    for r in frame.itertuples():
        if not (math.isfinite(r.sim) or math.isfinite(r.emu)):
            continue
        rows.append([r.window, r.stack, r.estimate + (f" ({r.unit})" if r.unit else ""),
                     _format_estimate(r.sim), _format_estimate(r.emu)])
    means = " (mean of the runs' medians)" if len(result.emus) > 1 else ""
    return [f"nRD estimates, median per window (reported, not judged){means}:",
            *render_table(rows, ["window", "stack", "estimate", "sim", "emu"])]


def _format_estimate(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "-"


def definitions(result: Comparison) -> list[str]:
    several = len(result.emus) > 1
    return [
        "completion: of the workload's sessions started in the window, the Kaplan–Meier median (unfinished censored "
        "at their age, failed never complete)",
        "goodput: of its completed sessions started in the window, the median of bytes_delivered*8/(end_s-start_s)",
        "share: of the sessions started in the window, over all of them (those without a stack included)",
        "policy switch: event -> first policy version before the next event whose ranking or down list differs",
        "error: (emu-sim)/sim for completion and goodput, emu-sim otherwise; "
        + ("emu = mean of the runs; agree inside their 95 % t-interval, else within tolerance of the mean"
           if several else "agree within tolerance"),
    ]


def verdict_line(result: Comparison) -> str:
    judged = [f for f in result.figures if f.judged]
    if result.verdict == VERDICT_INVALID:
        invalid = [e for e in result.emus if e.fidelity.known and not e.fidelity.valid]
        reasons = "; ".join(f"{e.path}: {e.fidelity.text}" for e in invalid)
        state = "figures agree" if result.figures_agree else f"{len(result.diverging)} figure(s) diverge"
        return f"verdict: INVALID EMULATION ({state}, but the emulation was not faithful: {reasons})"
    if result.verdict == VERDICT_DIVERGE:
        names = "; ".join(f.label for f in result.diverging)
        return f"verdict: DIVERGE ({len(result.diverging)} of {len(judged)} judged figures: {names})"
    unknown = [e.path for e in result.emus if not e.fidelity.known]
    caveat = f"; no fidelity information for {', '.join(unknown)}" if unknown else ""
    return f"verdict: agree ({len(judged)} judged figures within tolerance{caveat})"


# --- JSON ------------------------------------------------------------------------------------------------------

def json_number(value):
    """A float for JSON: finite as is, inf as "inf" (median not reached, no switch), nan as null (no data)."""
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def figure_dict(figure: Figure) -> dict:
    return {"kind": figure.kind, "figure": figure.label, "unit": figure.unit,
            "error_kind": "relative" if figure.relative else "absolute",
            "sim": json_number(figure.sim), "emu": json_number(figure.emu),
            "emu_runs": [json_number(v) for v in figure.emu_runs],
            "interval95": None if figure.interval is None else [json_number(v) for v in figure.interval],
            "error": json_number(figure.error), "tolerance": json_number(figure.tolerance),
            "tolerance_text": figure.tolerance_text, "verdict": figure.verdict, "reason": figure.reason,
            "scope": {k: json_number(v) if isinstance(v, float) else v for k, v in figure.scope.items()}}


def world_dict(world: World, emulation: bool) -> dict:
    entry = {"path": world.path, "scenario": world.scenario_name, "seed": world.seed,
             "duration_s": world.duration_s, "nrd_period_s": world.nrd_period_s, "overrides": world.overrides,
             "partial": world.partial}
    if emulation:
        entry["fidelity"] = {"emu_json": world.fidelity.known, "valid": world.fidelity.valid,
                             "reasons": world.fidelity.reasons}
    return entry


def comparison_dict(result: Comparison) -> dict:
    estimates = [{**{k: row[k] for k in ("window", "start_s", "end_s", "stack", "estimate", "column", "unit")},
                  "sim": json_number(row["sim"]), "emu": json_number(row["emu"]),
                  "emu_runs": [json_number(v) for v in row["emu_runs"]]}
                 for row in result.nrd_estimates.to_dict("records")]
    return {
        "scenario": result.scenario,
        "verdict": result.verdict,
        "figures_agree": result.figures_agree,
        "emulation_valid": result.emulation_valid,
        "sim": world_dict(result.sim, emulation=False),
        "emu": [world_dict(e, emulation=True) for e in result.emus],
        "tolerances": result.tolerances.to_dict(result.nrd_period_s),
        "nrd_period_s": result.nrd_period_s,
        "windows": [{"start_s": w.start_s, "end_s": w.end_s, "label": w.label()} for w in result.windows],
        "events": [{"time_s": e.time_s, "kind": e.kind, "target": e.target, "detail": e.detail}
                   for e in result.events],
        "figures": [figure_dict(f) for f in result.figures],
        "diverging": [f.label for f in result.diverging],
        "nrd_estimates": estimates,
        "notes": list(result.notes),
        "definitions": {
            "completion": "Kaplan–Meier median completion time over all sessions of the workload (unfinished "
                          "censored at their age, failed never complete); relative error (emu-sim)/sim",
            "goodput": "median over completed sessions of bytes_delivered*8/(end_s-start_s)/1e6 (Mbit/s); "
                       "relative error",
            "share": "stack's share of the sessions started in the window, over all of them; absolute difference",
            "switch_time": "seconds from the event to the first policy version at or after it (before the next "
                           "event) whose ranked use lists or down list differ from those in force before it; "
                           "'inf' = no switch",
            "agreement": f"fraction of {AGREEMENT_BIN_S:g} s bins whose most-used stack for new sessions is the "
                         "same in both worlds (only bins in which both worlds started sessions)",
            "several_runs": "emu = mean over runs; the sim value agrees inside the runs' 95 % t-interval, "
                            "otherwise within the tolerance of the mean",
            "values": "numbers; \"inf\" = median not reached / no switch; null = no data",
        },
    }


# --- plots -----------------------------------------------------------------------------------------------------

SIM_STYLE = {"color": "black", "linewidth": 1.8}


def _emu_style(index: int, runs: int) -> dict:
    return {"linestyle": "--", "linewidth": 1.4 if runs == 1 else 1.0, "alpha": 1.0 if runs == 1 else 0.7}


def _emu_label(index: int, runs: int) -> str:
    return "emulation" if runs == 1 else f"emulation run {index + 1}"


def _mark_events(axis, events: Sequence[ScenarioEvent]) -> None:
    for event in events:
        axis.axvline(event.time_s, color="grey", linewidth=0.8, linestyle=":")


def binned_shares(run: RunResults, stack: str, duration_s: float, bin_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(bin starts, the stack's share of the sessions started in each bin; nan where none started)."""
    edges = np.arange(0.0, duration_s + bin_s, bin_s)
    starts = run.sessions.start_s.to_numpy(float)
    carried = run.sessions["stack"].fillna(NO_STACK).astype(str).to_numpy()
    total, _ = np.histogram(starts[np.isfinite(starts)], bins=edges)
    mine, _ = np.histogram(starts[np.isfinite(starts) & (carried == stack)], bins=edges)
    share = np.where(total > 0, mine / np.maximum(total, 1), np.nan)
    # The last bin's value repeated at its end, so that a step plot draws that bin too.
    return edges, np.append(share, share[-1:] if len(share) else [])


def plot_session_share(result: Comparison, out_dir: str) -> str:
    stacks = share_stacks([result.sim, *result.emus])
    fig, axes = _figure(len(stacks), 1, (9, 2.4 * max(1, len(stacks))), sharex=True)
    bin_s = result.agreement_bin_s
    for axis, stack in zip(axes[:, 0], stacks):
        t, share = binned_shares(result.sim.run, stack, result.sim.duration_s, bin_s)
        axis.step(t, share, where="post", label="simulation", **SIM_STYLE)
        for index, emu in enumerate(result.emus):
            t, share = binned_shares(emu.run, stack, emu.duration_s, bin_s)
            axis.step(t, share, where="post", label=_emu_label(index, len(result.emus)),
                      **_emu_style(index, len(result.emus)))
        _mark_events(axis, result.events)
        axis.set_ylim(-0.05, 1.05)
        axis.set_ylabel(f"share on {stack}")
        axis.grid(alpha=0.3)
    axes[0, 0].legend(loc="best", fontsize="small")
    axes[-1, 0].set_xlabel("time (s); dotted: scenario events")
    fig.suptitle(f"Share of new sessions per stack: of the sessions started in each {bin_s:g} s bin, all "
                 "workloads\n(sessions that got no stack count in the denominator; gaps: no session started)",
                 fontsize="medium")
    return _save(fig, out_dir, "session_share.png")


def _cdf(axis, rates: np.ndarray, label: str, style: dict) -> None:
    if not len(rates):
        return
    ordered = np.sort(rates)
    few = len(ordered) <= 20  # a step curve of one or two sessions is invisible: mark each session
    axis.step(ordered, np.arange(1, len(ordered) + 1) / len(ordered), where="post", marker="o" if few else None,
              label=f"{label} (n={len(ordered)}, median {np.median(ordered):.3g})", **style)


def _spans_decades(rates: Sequence[np.ndarray]) -> bool:
    values = np.concatenate([r[r > 0] for r in rates]) if rates else np.array([])
    return len(values) > 0 and values.max() / values.min() > 10


def plot_goodput(result: Comparison, out_dir: str) -> str:
    names = workloads([result.sim, *result.emus])
    fig, axes = _figure(max(1, len(names)), 1, (9, 2.8 * max(1, len(names))))
    unmeasured = set(command_workloads(result.emus))
    for axis, name in zip(axes[:, 0], names):
        rates = [delivered_rates_mbps(world.run, name) for world in [result.sim, *result.emus]]
        _cdf(axis, rates[0], "simulation", SIM_STYLE)
        for index, emu_rates in enumerate(rates[1:]):
            _cdf(axis, emu_rates, _emu_label(index, len(result.emus)), _emu_style(index, len(result.emus)))
        if name in unmeasured:  # say why the emulation has no curve, rather than leave a reader guessing
            axis.set_title("no emulation curve: its sessions are command runs, whose bytes are not known",
                           fontsize="small", loc="right")
        if _spans_decades(rates):
            axis.set_xscale("log")
        axis.set_ylim(0, 1.02)
        axis.set_ylabel(f"{name}: CDF")
        axis.set_xlabel("delivered rate per session (Mbit/s): bytes_delivered × 8 ÷ (end − start)")
        axis.grid(alpha=0.3, which="both")
        if axis.has_data():
            axis.legend(loc="best", fontsize="small")
        else:
            axis.text(0.5, 0.5, "no completed sessions in either world", ha="center", transform=axis.transAxes)
    fig.suptitle("Delivered goodput per workload: completed sessions only (median in the legend)",
                 fontsize="medium")
    return _save(fig, out_dir, "goodput.png")


def estimate_series(run: RunResults, stack: str, column: str, fallback: Optional[str]) -> tuple:
    rows = run.metrics[run.metrics["stack"] == stack]
    values = rows[column].to_numpy(float)
    if fallback is not None and not np.isfinite(values).any():
        values = rows[fallback].to_numpy(float)
    return rows.time_s.to_numpy(float), values


def plot_nrd_estimates(result: Comparison, out_dir: str) -> str:
    stacks = sorted(set(result.sim.run.metrics["stack"].dropna().astype(str)).union(
        *(set(e.run.metrics["stack"].dropna().astype(str)) for e in result.emus)))
    rows = max(1, len(stacks))
    fig, axes = _figure(rows, len(ESTIMATES), (4 * len(ESTIMATES), 2.4 * rows), sharex=True)
    for row, stack in enumerate(stacks):
        for col, (column, fallback, label, unit) in enumerate(ESTIMATES):
            axis = axes[row, col]
            t, values = estimate_series(result.sim.run, stack, column, fallback)
            axis.plot(t, values, label="simulation", **SIM_STYLE)
            measured = np.isfinite(values).any()
            for index, emu in enumerate(result.emus):
                t, values = estimate_series(emu.run, stack, column, fallback)
                axis.plot(t, values, label=_emu_label(index, len(result.emus)), **_emu_style(index, len(result.emus)))
                measured = measured or np.isfinite(values).any()
            if not measured:
                axis.text(0.5, 0.5, "no estimate in either world", ha="center", va="center",
                          transform=axis.transAxes, color="grey")
                axis.set_yticks([])
            _mark_events(axis, result.events)
            axis.set_title(f"{stack}: {label}" + (f" ({unit})" if unit else ""), fontsize="small")
            axis.grid(alpha=0.3)
    if not stacks:
        axes[0, 0].text(0.5, 0.5, "no nRD estimates in either world", ha="center", transform=axes[0, 0].transAxes)
    axes[0, 0].legend(loc="best", fontsize="x-small")
    for axis in axes[-1, :]:
        axis.set_xlabel("time (s)")
    fig.suptitle("nRD's estimates per stack, every period (metrics.csv; gaps: no estimate)", fontsize="medium")
    return _save(fig, out_dir, "nrd_estimates.png")


def _figure(rows: int, cols: int, size: tuple, sharex: bool = False):
    """A matplotlib Figure without pyplot: drawing files never touches the caller's backend or figure list."""
    from matplotlib.figure import Figure as PlotFigure

    fig = PlotFigure(figsize=size, layout="constrained")
    return fig, fig.subplots(rows, cols, sharex=sharex, squeeze=False)


def _save(fig, out_dir: str, name: str) -> str:
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=110)
    return path


def plot_comparison(result: Comparison, out_dir: str) -> list[str]:
    """Write session_share.png, goodput.png and nrd_estimates.png into out_dir; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    return [plot_session_share(result, out_dir), plot_goodput(result, out_dir), plot_nrd_estimates(result, out_dir)]
