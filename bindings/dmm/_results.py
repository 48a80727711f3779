"""A run's results as pandas DataFrames: read back from the results directory the run wrote, so they are the same
data as `sessions.csv`, `metrics.csv`, `policy.jsonl`, `events.csv` and `summary.json` (DESIGN.md §2.2)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Optional

import pandas as pd

from .analysis.results import RunResults, load_results


@dataclass(repr=False)
class Results(RunResults):
    """One run's results.

    DataFrames (dtypes fixed by `dmm.analysis.results`): `sessions` (one row per session), `metrics` (nRD's
    estimates per stack every period), `policies` (one row per policy version; also `policy`), `events` (scenario
    events as applied). `summary` is summary.json as a dict. `path` is the results directory, or None when the
    run wrote to a temporary one (`Scenario.run(out=None)`). `seed` and `overrides` say how it was run;
    `provenance`, `invocation` and `scenario_yaml` say the rest (DESIGN.md §2.2). `emu` is emu.json (how
    faithful an emulated run was, `emu["valid"]` first), None for a simulated run.
    """

    seed: Optional[int] = None
    overrides: dict = field(default_factory=dict)
    # The scenario as it ran (the results directory's scenario.yaml: overrides and seed applied); None when the
    # directory has none (results written before it existed).
    scenario_yaml: Optional[str] = None
    emu: Optional[dict] = None

    @classmethod
    def read(cls, path: str, *, keep_path: bool = True, seed: Optional[int] = None,
             overrides: Optional[dict] = None) -> "Results":
        """Load a results directory (written by dmm-sim or by Scenario.run). `overrides` default to the ones the
        run recorded (summary.json `provenance.overrides`: dmm-sim's --set, Scenario.run's overrides)."""
        run = load_results(path)
        if overrides is None:
            overrides = recorded_overrides(run.summary)
        return cls(path=path if keep_path else None, sessions=run.sessions, metrics=run.metrics,
                   events=run.events, policy=run.policy, summary=run.summary,
                   seed=seed if seed is not None else run.summary.get("seed"), overrides=dict(overrides),
                   scenario_yaml=_read_text(os.path.join(path, "scenario.yaml")),
                   emu=_read_json(os.path.join(path, "emu.json")))

    @property
    def provenance(self) -> dict:
        """How the run was made (summary.json `provenance`: versions, git commit, scenario file, overrides,
        seed option) — the same for every run of the same inputs and build. {} for results written before it
        existed."""
        return dict(self.summary.get("provenance") or {})

    @property
    def invocation(self) -> dict:
        """Where and when it ran (summary.json `invocation`: tool, command line, working directory, host, start
        time) — differs from run to run, like `timing`."""
        return dict(self.summary.get("invocation") or {})

    @property
    def policies(self) -> pd.DataFrame:
        """policy.jsonl: one row per policy version (version, time_s, reason, rules, down)."""
        return self.policy

    @property
    def expectations(self) -> pd.DataFrame:
        """The scenario's `expect:` entries with `passed` and the measured `detail`."""
        return pd.DataFrame(self.summary.get("expectations", []), columns=["text", "passed", "detail"])

    @property
    def passed(self) -> bool:
        """True when every expectation passed (dmm-sim would exit 0)."""
        return all(bool(e.get("passed")) for e in self.summary.get("expectations", []))

    def plot(self, out_dir: Optional[str] = None) -> list[str]:
        """Draw plot_run.py's PNGs (goodput, session share, nRD estimates, completion CDF) into `out_dir`
        (default `<path>/plots`); returns the files written."""
        from .analysis import plot_run  # matplotlib only when plotting

        if out_dir is None:
            if self.path is None:
                raise ValueError("this run kept no results directory: pass out_dir, or run with out=DIR")
            out_dir = os.path.join(self.path, "plots")
        return plot_run.plot_all(self, out_dir)

    def __repr__(self) -> str:
        s = self.summary.get("sessions", {})
        checks = self.summary.get("expectations", [])
        passed = sum(1 for e in checks if e.get("passed"))
        where = f", path={self.path!r}" if self.path else ""
        return (f"<Results {self.scenario!r} seed={self.seed}: {s.get('total', len(self.sessions))} sessions "
                f"({s.get('completed', '?')} completed), {len(self.policy)} policy versions, "
                f"expectations {passed}/{len(checks)} passed{where}>")


def recorded_overrides(summary: dict) -> dict:
    """{key: value} of the `--set key=value` edits a run recorded, in order."""
    edits = (summary.get("provenance") or {}).get("overrides") or []
    return dict(edit.partition("=")[::2] for edit in edits if isinstance(edit, str))


def _read_json(file: str) -> Optional[dict]:
    text = _read_text(file)
    return None if text is None else json.loads(text)


def _read_text(file: str) -> Optional[str]:
    try:
        with open(file, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
