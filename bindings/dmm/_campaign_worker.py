"""What a campaign's run does on a Dask worker: register the caller's algorithms, run the scenario (sim or emu)
into the run's folder with its output kept in that folder, and report how it went.

The run's folder, written here:
    out/          the results directory of DESIGN.md 2.2
    stdout.txt    everything the run wrote on file descriptors 1 and 2 (the simulator's and dmm-emu's messages,
    stderr.txt    a Python algorithm's print(), programs dmm-emu started); empty files when it wrote nothing
    meta.json     status, error, traceback, wall time, version, worker, Python
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import platform
import socket
import sys
import threading
import time
import traceback
from typing import Any, Mapping

from . import _algorithms
from ._dmm import __version__
from ._scenario import Scenario
from ._sweep import run_figures
from .errors import Error

# A process runs one scenario at a time (ns-3's state is process-wide; dmm._dmm refuses a second one at once) and
# its output is captured at the file descriptors, which are process-wide too. A worker started with several
# threads (dask-worker's default is one per core) therefore runs its runs one after another instead of failing
# all but one of them.
_ONE_RUN_PER_PROCESS = threading.Lock()

STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"


def run_one(scenario_source: tuple, point: Mapping[str, Any], seed: int, mode: str, directory: str,
            algorithms: Mapping[str, type]) -> dict:
    """Runs one run of a campaign into `directory` and returns its outcome (status, error, figures, wall time)."""
    folder = pathlib.Path(directory)
    with _ONE_RUN_PER_PROCESS:
        # Python algorithms the runs name, defined in the caller's process (a notebook too): cloudpickle brought
        # the classes, complete. They replace whatever this worker has under the name: a spawned worker may have
        # re-run the caller's script (`__mp_main__`), and the caller's class is the one asked for.
        for name, cls in algorithms.items():
            _algorithms._registry[name] = cls
        started = time.perf_counter()
        outcome = {"version": __version__, "worker": f"{socket.gethostname()}:{os.getpid()}"}
        with _output_to(folder):
            try:
                # Loaded here, not sent as a Scenario: loading checks the algorithm it names, registered above.
                text, file, overrides = scenario_source
                scenario = Scenario.from_yaml(text, file=file).with_overrides(list(overrides))
                run = scenario.emulate if mode == "emu" else scenario.run
                results = run(seed=seed, overrides=dict(point), out=str(folder / "out"))
                outcome.update(status="ok", error=None, figures=run_figures(results))
            except Error as err:
                cause = err.__cause__
                detail = "".join(traceback.format_exception(cause)) if cause is not None else ""
                outcome.update(status="failed", error=f"{type(err).__name__}: {err}", figures=None, traceback=detail)
                print(f"run failed: {outcome['error']}", file=sys.stderr)
                if detail:
                    print(detail, file=sys.stderr, end="")
        outcome["wall_s"] = time.perf_counter() - started
        write_meta(folder, outcome)
        return outcome


@contextlib.contextmanager
def _output_to(folder: pathlib.Path):
    """Sends file descriptors 1 and 2, and Python's sys.stdout and sys.stderr, to the run's files while the run
    goes; puts everything back afterwards, also when the run raised. Descriptor level: the simulator's C++ code
    and the programs dmm-emu starts write there, not through Python. What other threads of the worker process
    write meanwhile (Dask's own log lines) lands in the run's files too."""
    streams = (sys.stdout, sys.stderr)
    for stream in streams:
        _flush(stream)
    with open(folder / STDOUT_FILE, "w", buffering=1) as out, open(folder / STDERR_FILE, "w", buffering=1) as err:
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.stdout, sys.stderr = out, err
            yield
        finally:
            _flush(out)
            _flush(err)
            _flush_c_stdio()
            sys.stdout, sys.stderr = streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _flush(stream) -> None:
    try:
        stream.flush()
    except (AttributeError, OSError, ValueError):
        pass  # a stream that cannot flush (closed, None under pythonw) has nothing of ours to lose


def _flush_c_stdio() -> None:
    # C and C++ code buffers what it writes to stdout (printf, std::cout): flushed before the descriptors go
    # back, or the run's last lines would land in the worker's output instead of the run's file.
    import ctypes
    ctypes.CDLL(None).fflush(None)


def write_meta(directory: pathlib.Path, outcome: Mapping[str, Any]) -> None:
    meta = {k: v for k, v in outcome.items() if k != "figures"}
    meta["python"] = platform.python_version()
    (directory / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
