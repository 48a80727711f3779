"""`dmm.compare`: where a simulation and emulation runs of the same scenario agree and where they part — the
figures of dmm-compare (DESIGN.md §2.6), computed by analysis/compare.py (here `dmm.analysis.compare`)."""

from __future__ import annotations

import os
from typing import Mapping, Sequence, Union

from .analysis import compare as comparing
from .analysis.compare import Comparison, CompareInputError, Tolerances  # noqa: F401

PathLike = Union[str, "os.PathLike[str]"]


def compare(sim_dir: PathLike, emu_dirs: Union[PathLike, Sequence[PathLike]],
            tolerances: Union[None, Tolerances, Mapping[str, object], Sequence[str]] = None) -> Comparison:
    """Compare a results directory written by dmm-sim (or `Scenario.run(out=...)`) with one or more dmm-emu runs
    of the same scenario, as `dmm-compare SIM_DIR EMU_DIR...` does.

    Returns a `dmm.analysis.compare.Comparison`: `.verdict` ("agree", "diverge", "invalid emulation"), `.agrees`,
    `.figures` (per workload completion and goodput, per window each stack's share of new sessions, per event the
    policy switch time, decision agreement; each with `sim`, `emu`, `error`, `tolerance`, `verdict`), `.table()`
    (a DataFrame), `.nrd_estimates`, `.report()` (dmm-compare's text), `.to_dict()` (its --json) and
    `.plot(out_dir)`. `tolerances`: None for the defaults (goodput and completion 10 %, shares 0.1, switch time
    one nRD period), or e.g. `{"share": 0.2, "switch_time": "2period"}` or `["goodput=15%"]`.
    Raises `CompareInputError` (a ValueError) for bad input: a directory that is not a results directory, results
    of two different scenarios, an unreadable emu.json, a bad tolerance."""
    if isinstance(emu_dirs, (str, os.PathLike)):
        emu_dirs = [emu_dirs]
    return comparing.compare(os.fspath(sim_dir), [os.fspath(d) for d in emu_dirs], tolerances)
