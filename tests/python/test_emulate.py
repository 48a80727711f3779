"""Emulation from Python (Scenario.emulate, dmm.run_emulation): dmm-emu's run in the interpreter, so that Python
policy algorithms decide on real stacks too. Needs root (namespaces), as dmm-emu does; every client runs in
namespaces the run makes."""

from __future__ import annotations

import glob
import os
import signal

import pytest

import dmm
from conftest import scenario_path, sessions_by_stack

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="emulation makes network namespaces: root only")


@pytest.fixture
def light(quickstart) -> dmm.Scenario:
    """quickstart for 4 s at a quarter of its bandwidth, without its event and expectations."""
    return quickstart.with_overrides({"duration": "4s", "workloads.rpc.stop": "4s", "workloads.bulk.size": "1MB",
                                      "topology.links.wan-a.rate": "25Mbps", "events": [], "expect": []})


def our_namespaces() -> list[str]:
    return glob.glob(f"/run/netns/dmme{os.getpid()}-*")


@pytest.mark.full_scenario
def test_a_python_algorithm_decides_on_real_stacks(light, tmp_path):
    class SlowFirst(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            return current.reorder(lambda stack: 0 if stack == "slow" else 1)

    results = light.emulate(overrides={"nrd.algorithm": "python:SlowFirst", "nrd.params": {}}, out=tmp_path / "emu")
    # emu.json is there; whether this run kept up with real time depends on what else the machine runs (ctest runs
    # this beside other tests), so it is not this test's question — emu.scenarios judges fidelity alone.
    assert results.emu is not None and isinstance(results.emu["valid"], bool) and results.emu["links"], results.emu
    # min-rtt keeps the RPCs on `fast`; the Python algorithm moves them to `slow` from its first decision on.
    after = sessions_by_stack(results, "rpc", 1.0, 4.0)
    assert after.get("slow", 0) > 0.9 * sum(after.values()), after
    assert results.policies.reason.iloc[1].startswith("ranking changed")
    assert results.summary["provenance"]["overrides"]
    assert our_namespaces() == []
    # The run blocked SIGINT while it went (Ctrl-C stops it in order); the interpreter has it back.
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


@pytest.mark.full_scenario
def test_an_algorithm_that_raises_stops_the_run_and_leaves_nothing(light, tmp_path):
    class Breaks(dmm.PolicyAlgorithm):
        calls = 0

        def decide(self, estimates, current):
            Breaks.calls += 1
            if Breaks.calls == 3:
                raise ValueError("no decision today")
            return current

    with pytest.raises(dmm.AlgorithmError, match="no decision today") as raised:
        light.emulate(overrides={"nrd.algorithm": "python:Breaks", "nrd.params": {}}, out=tmp_path / "emu")
    assert isinstance(raised.value.__cause__, ValueError)
    assert "partial results" in str(raised.value)
    assert our_namespaces() == []


def test_bad_input_is_a_scenario_error(quickstart, tmp_path):
    with pytest.raises(dmm.ScenarioError, match="--set nrd.algorithm: .*unknown algorithm 'python:Nobody'"):
        quickstart.emulate(overrides={"nrd.algorithm": "python:Nobody"}, out=tmp_path / "emu")
    assert not (tmp_path / "emu").exists()


@pytest.mark.full_scenario
def test_a_python_algorithms_policy_reaches_an_unmodified_program(tmp_path):
    """A command workload's curl under dmm-run gets its policy from the run's nRD over the wire protocol: the one a
    Python algorithm decides, in this interpreter."""
    class BackupFirst(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            return current.reorder(lambda stack: 0 if stack == "backup" else 1)

    fetch = dmm.load_scenario(scenario_path("command-fetch.yaml")).with_overrides(
        {"duration": "5s", "workloads.fetch.stop": "5s", "events": [], "expect": [],
         "nrd.algorithm": "python:BackupFirst"})
    results = fetch.emulate(out=tmp_path / "emu")
    late = results.sessions[results.sessions.start_s >= 2.0]
    assert len(late) > 0
    assert (late["stack"] == "backup").all() and (late["policy_version"] >= 2).all(), late
    assert late.bytes_delivered.isna().all()  # a program's bytes are not known: empty, never 0
    assert results.emu["programs_nrd"]["subscribers"] >= len(late)
    assert our_namespaces() == []
