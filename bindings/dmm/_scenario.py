"""Scenarios from Python: loaded and checked by dmm-sim's loader, run by its simulator."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from typing import Any, Iterable, Mapping, Optional, Union

from . import _dmm
from ._algorithms import loader_classes
from ._results import Results
from .errors import AlgorithmError, RunError, ScenarioError

Overrides = Union[Mapping[str, Any], Iterable[str], None]

_ALGORITHM_IN_MESSAGE = re.compile(r"algorithm '([^']+)'")


class Scenario:
    """A scenario checked by the same loader as dmm-sim (DESIGN.md §2.1).

    Make one with `dmm.load_scenario(path)` or `dmm.Scenario.from_yaml(text)`; bad input raises
    `dmm.ScenarioError` with dmm-sim's message (`FILE:LINE:COL: what is wrong`) and its parts as attributes.

    Read what was loaded: `name`, `description`, `seed`, `duration_s`, `nodes`, `links`, `stacks`, `nrd`,
    `policy` (the initial `dmm.Policy`), `workloads`, `events`, `expect`, `file`, `yaml`.

    `run(seed=None, overrides=None, out=None)` runs it in ns-3 and returns `dmm.Results` (pandas DataFrames of
    the results directory). `overrides` are dmm-sim's `--set` edits as a dict: `{"nrd.period": "250ms",
    "topology.links.wan-a.delay": "50ms", "nrd.algorithm": "python:MyAlgo"}` (list items by name or index).
    `with_overrides(...)` returns the edited scenario, checked, without running it.
    """

    def __init__(self, view: "_dmm.ScenarioView", text: bytes, file: str, overrides: tuple[str, ...] = (),
                 seed: Optional[int] = None):
        # Internal: use load_scenario / from_yaml / with_overrides. The text is kept, not the parsed tree, because
        # every run re-loads it with its own overrides exactly as dmm-sim would.
        self._view = view
        self._text = text
        self._file = file
        self._overrides = tuple(overrides)
        self._seed = seed

    # --- construction -----------------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike]) -> "Scenario":
        """Load and check a scenario file (same as `dmm.load_scenario`)."""
        path = os.fspath(path)
        view, text = _call(_dmm.load_file, path, [], None, loader_classes())
        return cls(view, text, path)

    @classmethod
    def from_yaml(cls, text: str, file: str = "<yaml>") -> "Scenario":
        """Check scenario YAML given as text. `file` names it in error messages; plug-in paths are relative to
        its directory (the current directory for the default)."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        view = _call(_dmm.load_text, data, file, [], None, loader_classes())
        return cls(view, data, file)

    def with_overrides(self, overrides: Overrides = None, seed: Optional[int] = None) -> "Scenario":
        """This scenario with more `--set` edits (applied after the ones it has) and/or another seed, checked."""
        edits = self._overrides + override_strings(overrides)
        seed = self._seed if seed is None else check_seed(seed)
        view = _call(_dmm.load_text, self._text, self._file, list(edits), seed, loader_classes())
        return Scenario(view, self._text, self._file, edits, seed)

    def __reduce__(self):
        # The compiled view does not pickle; a copy (e.g. for a sweep's worker) is loaded again from the text.
        return (_restore, (self._text, self._file, self._overrides, self._seed))

    # --- what it is -------------------------------------------------------------------------------------

    file = property(lambda self: self._file, doc="Where it was loaded from (as given), or the from_yaml name.")
    yaml = property(lambda self: self._text.decode("utf-8", "replace"), doc="The scenario's YAML text.")
    overrides = property(lambda self: self._overrides, doc="The `--set` edits applied (key=value strings).")
    name = property(lambda self: self._view.name, doc="The scenario's `name:` (results go to results/<name>/).")
    description = property(lambda self: self._view.description, doc="Its `description:` (the question it asks).")
    seed = property(lambda self: self._view.seed, doc="The seed runs use unless run(seed=...) says otherwise.")
    duration_s = property(lambda self: self._view.duration_s, doc="Simulated run length in seconds.")
    nodes = property(lambda self: self._view.nodes, doc="Node names; node i is 10.255.0.(i+1) to policies.")
    links = property(lambda self: self._view.links, doc="Links as dicts: name, between, rate_mbps, delay_ms, loss, queue_packets.")
    stacks = property(lambda self: self._view.stacks,
                      doc="Stack instances as dicts: name, node, kind, link, tcp, processing_delay_ms, time_wait_ms (None: the kind's own), params.")
    nrd = property(lambda self: self._view.nrd,
                   doc="nRD settings (algorithm, params, period_s, sync_delay_s, probe_interval_s), None without nRD.")
    policy = property(lambda self: self._view.policy, doc="The initial policy (version 1) as a dmm.Policy.")
    workloads = property(lambda self: self._view.workloads,
                         doc="Workloads as dicts with every parameter, defaults filled in: name, kind, from, to, "
                             "port, proto, intent, start_s, stop_s, rate_per_s (None: back to back) and count "
                             "(None with a rate), then the kind's own: size_bytes (bulk), request_bytes and "
                             "response_bytes (request-response), on_s, off_s and send_rate_mbps (on-off).")
    events = property(lambda self: self._view.events, doc="Scripted events as dicts: at_s, target, name, action.")
    expect = property(lambda self: self._view.expect, doc="The expectations, as written.")
    warnings = property(lambda self: self._view.warnings,
                        doc="What the loader accepted but says (dmm-sim prints these): parameters dropped by an "
                            "nrd.algorithm override, a run that will be very large.")

    def __repr__(self) -> str:
        nrd = self.nrd["algorithm"] if self.nrd else "no nRD"
        return (f"<Scenario {self.name!r}: {len(self.nodes)} nodes, {len(self.stacks)} stacks, "
                f"{len(self.workloads)} workloads, {self.duration_s:g} s, {nrd} ({self._file})>")

    # --- running ----------------------------------------------------------------------------------------

    def run(self, seed: Optional[int] = None, overrides: Overrides = None, out: Optional[Union[str, os.PathLike]] = None,
            *, pcap: bool = False) -> Results:
        """Run the scenario in ns-3 and return its results.

        seed: overrides the scenario's seed (same seed, same results: byte-identical to `dmm-sim --seed`).
        overrides: `--set` edits, `{"key.path": value}` (values are written as YAML: "250ms", 0.1, [a, b]).
        out: results directory to write (kept); None = a temporary one, removed after loading (`path` is None).
        pcap: also write pcap traces into `<out>/pcap/` (needs `out`).

        Raises ScenarioError (bad input), AlgorithmError (a Python algorithm failed; the run stopped) or RunError.
        Runs one at a time per process (ns-3's simulator is process-wide); `dmm.sweep` runs several in parallel.
        """
        return self._run_with(_dmm.run, "dmm-run-", seed, overrides, out, pcap)


    def emulate(self, seed: Optional[int] = None, overrides: Overrides = None,
                out: Optional[Union[str, os.PathLike]] = None, *, pcap: bool = False) -> Results:
        """Run the scenario on real stacks, as dmm-emu does, and return its results (emu.json included).

        The same scenario, the same control plane and the same registered Python algorithms as `run`, but the
        stacks are real (kernel instances in network namespaces, lwIP over DPDK) and the links are ns-3 in real
        time: it takes the scenario's duration in wall time and needs root. `Results.emu` is emu.json's content;
        check `Results.emu["valid"]` before trusting a figure (dmm.compare does).

        Raises ScenarioError (bad input, or what dmm-emu cannot realise), AlgorithmError (a Python algorithm
        raised; the run stopped), RunError, or KeyboardInterrupt (Ctrl-C; partial results in `out`).
        """
        return self._run_with(_dmm.emulate, "dmm-emu-", seed, overrides, out, pcap)

    def _run_with(self, function, prefix: str, seed: Optional[int], overrides: Overrides,
                  out: Optional[Union[str, os.PathLike]], pcap: bool) -> Results:
        """One run through `function` (the compiled run or emulate) into `out`, or into a temporary directory
        removed once the results are read."""
        edits = self._overrides + override_strings(overrides)
        seed = self._seed if seed is None else check_seed(seed)
        if pcap and out is None:
            raise ValueError("pcap=True needs out=DIR to keep the traces")
        directory = os.fspath(out) if out is not None else tempfile.mkdtemp(prefix=prefix)
        try:
            _call(function, self._text, self._file, list(edits), seed, loader_classes(), directory, pcap)
            return Results.read(directory, keep_path=out is not None, overrides=dict(_split(e) for e in edits))
        finally:
            if out is None:
                shutil.rmtree(directory, ignore_errors=True)


def _restore(text: bytes, file: str, overrides: tuple[str, ...], seed: Optional[int]) -> Scenario:
    view = _call(_dmm.load_text, text, file, list(overrides), seed, loader_classes())
    return Scenario(view, text, file, overrides, seed)


def load_scenario(path: Union[str, os.PathLike]) -> Scenario:
    """Load and check a scenario file, exactly as `dmm-sim PATH` would; raises dmm.ScenarioError."""
    return Scenario.from_file(path)


def run_scenario(path: Union[str, os.PathLike], seed: Optional[int] = None, overrides: Overrides = None,
                 out: Optional[Union[str, os.PathLike]] = None, *, pcap: bool = False) -> Results:
    """`dmm-sim PATH [--seed] [--set ...] [--out]` from Python: load_scenario(path).run(...)."""
    return load_scenario(path).run(seed=seed, overrides=overrides, out=out, pcap=pcap)


def run_emulation(path: Union[str, os.PathLike], seed: Optional[int] = None, overrides: Overrides = None,
                  out: Optional[Union[str, os.PathLike]] = None, *, pcap: bool = False) -> Results:
    """`dmm-emu PATH [--seed] [--set ...] [--out]` from Python: load_scenario(path).emulate(...)."""
    return load_scenario(path).emulate(seed=seed, overrides=overrides, out=out, pcap=pcap)


def override_strings(overrides: Overrides) -> tuple[str, ...]:
    """`{"a.b": value}` (or an iterable of "a.b=value" strings) as dmm-sim's `--set` arguments."""
    if overrides is None:
        return ()
    if isinstance(overrides, str):
        raise TypeError("overrides must be a dict {key: value} or a list of 'key=value' strings, not one str")
    if isinstance(overrides, Mapping):
        return tuple(f"{key}={yaml_value(value)}" for key, value in overrides.items())
    return tuple(str(item) for item in overrides)


def yaml_value(value: Any) -> str:
    """A Python value as YAML text for an override: strings as they are (`250ms`), the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict)):
        value = value.item()  # numpy scalars from a sweep grid
    if isinstance(value, range):
        value = list(value)
    return json.dumps(value)


def check_seed(seed: Any) -> int:
    if hasattr(seed, "item") and not isinstance(seed, bool):
        seed = seed.item()
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0 or seed >= 2**64:
        raise ScenarioError(f"seed {seed!r}: expected a non-negative integer")
    return seed


def _split(edit: str) -> tuple[str, str]:
    key, _, value = edit.partition("=")
    return key, value


def _call(function, *args):
    """Calls into the compiled module, turning its exceptions into dmm's (same message, cause kept)."""
    try:
        return function(*args)
    except _dmm.LoadError as err:
        raise ScenarioError(str(err)) from err.__cause__
    except _dmm.AlgorithmError as err:
        found = _ALGORITHM_IN_MESSAGE.search(str(err))
        raise AlgorithmError(str(err), algorithm=found[1] if found else None) from err.__cause__
    except _dmm.RunError as err:
        raise RunError(str(err)) from None
