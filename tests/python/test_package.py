"""The package as the README shows it: `dmm.__version__`, `dmm.build_info()`, and `dmm.examples` usable after a
plain `import dmm`."""

from __future__ import annotations

import os
import subprocess
import sys

import dmm
from conftest import ROOT, run_cli


def python(code: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter (this one may have imported dmm.examples already)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_examples_are_an_attribute_of_the_package():
    done = python("import dmm\n"
                  "print(dmm.examples.MinRtt.__name__, dmm.examples.Weighted.__name__)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["MinRtt", "Weighted"]


def test_import_dmm_alone_registers_no_example_algorithm():
    done = python("import dmm\nprint(sorted(a for a in dmm.algorithms() if a.startswith('python:')))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_unknown_attributes_still_raise():
    try:
        dmm.no_such_thing  # noqa: B018
    except AttributeError as err:
        assert "no_such_thing" in str(err)
    else:
        raise AssertionError("dmm.no_such_thing did not raise")


def test_version_and_build_info():
    assert isinstance(dmm.__version__, str) and dmm.__version__.count(".") == 2
    info = dmm.build_info()
    assert set(info) == {"version", "git_commit", "git_dirty", "ns3_version"}
    assert info["version"] == dmm.__version__
    assert info["git_commit"] is None or len(info["git_commit"]) == 40


def test_the_python_tools_have_a_version_like_dmm_sims():
    bench = os.path.join(ROOT, "bindings", "bench", "python_algorithm_bench.py")
    done = subprocess.run([sys.executable, bench, "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    sim = run_cli("--version", check_exit=0).stdout
    # Same build, same words after the tool's name.
    assert done.stdout.split(" ", 1)[1] == sim.split(" ", 1)[1]
