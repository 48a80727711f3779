"""Shared fixtures for the pytest suites of the `dmm` Python package (registered with CTest as python.*).

Run one by hand from the repository root after building:
    PYTHONPATH=build/python MPLBACKEND=Agg /usr/bin/python3 -m pytest -q tests/python/test_run.py
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import dmm
from dmm import _algorithms

ROOT = os.environ.get("DMM_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DMM_SIM = os.environ.get("DMM_SIM") or os.path.join(ROOT, "build", "bin", "dmm-sim")
QUICKSTART = os.path.join(ROOT, "scenarios", "quickstart.yaml")
RESULT_FILES = ["sessions.csv", "metrics.csv", "policy.jsonl", "events.csv"]


def scenario_path(name: str) -> str:
    return os.path.join(ROOT, "scenarios", name)


def run_cli(*args: str, check_exit: int | None = None) -> subprocess.CompletedProcess:
    """dmm-sim with `args`; asserts the exit code when `check_exit` is given."""
    done = subprocess.run([DMM_SIM, *args], capture_output=True, text=True, timeout=600)
    if check_exit is not None:
        assert done.returncode == check_exit, done.stderr
    return done


def pytest_configure(config):
    config.addinivalue_line("markers", "full_scenario: runs whole scenarios (left out under the sanitizers, where "
                                       "a 20 s scenario takes minutes)")


@pytest.fixture
def quickstart() -> dmm.Scenario:
    return dmm.load_scenario(QUICKSTART)


@pytest.fixture
def short(quickstart) -> dmm.Scenario:
    """quickstart cut to 3 s without its events and expectations: for tests that need a run, not its story."""
    return quickstart.with_overrides({"duration": "3s", "workloads.rpc.stop": "3s", "workloads.bulk.size": "1MB",
                                      "events": [], "expect": []})


@pytest.fixture(autouse=True)
def isolated_algorithm_registry():
    """Algorithms a test defines are forgotten after it, so tests do not see each other's classes."""
    saved = dict(_algorithms._registry)
    yield
    _algorithms._registry.clear()
    _algorithms._registry.update(saved)


@pytest.fixture
def no_python_algorithms():
    """Only the built-in algorithms, as dmm-sim has (its messages list the algorithms it knows)."""
    _algorithms._registry.clear()


@pytest.fixture
def examples():
    """The Python ports of the C++ algorithms, registered for this test."""
    import dmm.examples

    for cls in (dmm.examples.MinRtt, dmm.examples.Weighted):
        dmm.register_algorithm(cls)
    return dmm.examples


def sessions_by_stack(results, workload: str, start: float, end: float) -> dict:
    s = results.sessions
    window = s[(s.workload == workload) & (s.start_s >= start) & (s.start_s < end)]
    return window["stack"].value_counts().to_dict()


def files_equal(a: str, b: str, name: str) -> bool:
    with open(os.path.join(a, name), "rb") as fa, open(os.path.join(b, name), "rb") as fb:
        return fa.read() == fb.read()


__all__ = ["ROOT", "DMM_SIM", "QUICKSTART", "RESULT_FILES", "scenario_path", "run_cli", "sessions_by_stack",
           "files_equal", "shutil"]
