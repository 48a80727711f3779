"""analysis/notebooks/policy-tour.ipynb executes headless (jupyter nbconvert --execute, as a user would run it)
and shows what it promises: tables, inline plots, and the comparison of its Python algorithm with min-rtt."""

from __future__ import annotations

import base64
import math
import os
import re
import subprocess
import sys

import nbformat

from conftest import ROOT

NOTEBOOK = os.path.join(ROOT, "analysis", "notebooks", "policy-tour.ipynb")


def test_the_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert all(not cell.get("outputs") and cell.get("execution_count") is None
               for cell in notebook.cells if cell.cell_type == "code")


def test_notebook_executes(tmp_path):
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
    env.pop("MPLBACKEND", None)  # the notebook's own %matplotlib inline decides
    # The kernel starts in the notebook's directory: the module path must be absolute.
    env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)
    # `python3 -m jupyter`, not `jupyter` from PATH: a pyenv shim may come first there (MACHINE-FACTS.md).
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                           "--output-dir", str(tmp_path),
                           "--ExecutePreprocessor.timeout=600", NOTEBOOK],
                          capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    executed = nbformat.read(tmp_path / "policy-tour.ipynb", as_version=4)
    outputs = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [base64.b64decode(o.data["image/png"]) for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3 and all(len(image) > 10_000 for image in images)
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "python:RttBudget" in text
    # The campaign's progress bar, as Jupyter shows it (its carriage returns redraw the line in place).
    bar = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.get("name") == "stderr")
    assert re.search(r"campaign \S+: 100%.*\b(\d+)/\1 ", bar), bar[-500:]
    # RttBudget keeps the RPCs on `fast` (the comparison runs with race: failover), min-rtt moves them all.
    assert on_slow(text, "RttBudget 500 ms") == 0, text
    assert on_slow(text, "min-rtt") >= 90, text
    # What the narrative says, counted with every RPC (unfinished ones censored): RttBudget's RPCs after the
    # change take longer than min-rtt's, and it leaves more of them unfinished.
    late = {label: line for line in text.splitlines() for label in ["min-rtt ", "RttBudget 500 ms"]
            if line.startswith(label)}
    assert seconds(late["RttBudget 500 ms"]) > 2 * seconds(late["min-rtt "]), late
    assert unfinished(late["RttBudget 500 ms"]) > 2 * unfinished(late["min-rtt "]), late


def on_slow(text: str, label: str) -> int:
    """The percentage of late RPCs on `slow` that the notebook printed for `label`."""
    return int(re.search(re.escape(label) + r" +RPCs after 11 s on slow: (\d+)%", text).group(1))


def seconds(line: str) -> float:
    """The median of a CompletionStats.describe() line, in seconds (inf when not reached)."""
    if "median not reached" in line:
        return math.inf
    value, unit = re.search(r"median ([0-9.]+) (µs|ms|s)\b", line).groups()
    return float(value) * {"µs": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def unfinished(line: str) -> int:
    return int(re.search(r"(\d+) unfinished", line).group(1))
