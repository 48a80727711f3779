"""The exceptions `dmm` raises. All derive from `dmm.Error`.

- `ScenarioError` (also a ValueError): the scenario or an override is bad input — dmm-sim's exit code 2.
  `str(e)` is dmm-sim's message, `FILE:LINE:COL: what is wrong` (or `--set KEY: what is wrong` for an override);
  `file`, `line`, `column`, `override` and `problem` hold its parts.
- `RunError` (also a RuntimeError): the run failed at run time — dmm-sim's exit code 3.
- `AlgorithmError` (a RunError): a Python policy algorithm raised (or returned something that is not a valid
  Policy); the run was stopped and wrote no results. `__cause__` is the original exception, with its traceback.
"""

from __future__ import annotations

import re

_AT_FILE = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<column>\d+): (?P<problem>.*)$", re.S)
_AT_OVERRIDE = re.compile(r"^--set (?P<key>[^:]*): (?P<problem>.*)$", re.S)


class Error(Exception):
    """Base class of every error dmm raises on purpose."""


class ScenarioError(Error, ValueError):
    """Bad scenario input, with where it is.

    Attributes: `file` (as given to the loader), `line` and `column` (1-based; None when the problem is in an
    override), `override` (the `--set` key at fault, else None), `problem` (the message without the location).
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.file: str | None = None
        self.line: int | None = None
        self.column: int | None = None
        self.override: str | None = None
        self.problem = message
        if match := _AT_OVERRIDE.match(message):
            self.override, self.problem = match["key"], match["problem"]
        elif match := _AT_FILE.match(message):
            self.file, self.problem = match["file"], match["problem"]
            self.line, self.column = int(match["line"]), int(match["column"])


class RunError(Error, RuntimeError):
    """The run failed at run time (dmm-sim would exit with code 3)."""


class AlgorithmError(RunError):
    """A Python policy algorithm failed during a run; `__cause__` is what it raised, with its traceback.

    `algorithm` is the algorithm's scenario name (`python:Name`) when known.
    """

    def __init__(self, message: str, algorithm: str | None = None):
        super().__init__(message)
        self.algorithm = algorithm
