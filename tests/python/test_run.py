"""Running scenarios from Python: the results are dmm-sim's for the same seed (files byte for byte, DataFrames
equal to the loader's), repeatable in one process, and failures come back as exceptions."""

from __future__ import annotations

import glob
import json
import os
import signal
import sys
import tempfile
import threading
import time

import pandas as pd
import pytest

import dmm
from conftest import QUICKSTART, RESULT_FILES, files_equal, run_cli, scenario_path


def without_timing(path: str) -> dict:
    with open(os.path.join(path, "summary.json"), encoding="utf-8") as handle:
        summary = json.load(handle)
    # The documented volatile parts, the only ones that may differ between two runs: wall-clock figures, and
    # where and how the run was started (the tool, its command line, the host).
    summary.pop("timing")
    summary.pop("invocation")
    return summary


def assert_same_results(a: str, b: str) -> None:
    for name in RESULT_FILES:
        assert files_equal(a, b, name), f"{name} differs between {a} and {b}"
    assert without_timing(a) == without_timing(b)


@pytest.mark.full_scenario
def test_results_equal_the_cli_files_for_the_same_seed(tmp_path, quickstart):
    cli = tmp_path / "cli"
    run_cli(QUICKSTART, "--seed", "3", "--out", str(cli), "--quiet", check_exit=0)
    # Another scenario first: a run must not depend on what ran before it in the process (ns-3 keeps
    # process-wide state between simulations).
    dmm.load_scenario(scenario_path("failover.yaml")).run(seed=5)
    results = quickstart.run(seed=3, out=tmp_path / "py")
    assert_same_results(str(cli), str(tmp_path / "py"))

    from_cli = dmm.load_results(str(cli))
    for frame in ["sessions", "metrics", "policies", "events"]:
        pd.testing.assert_frame_equal(getattr(results, frame), getattr(from_cli, frame))
    assert results.summary["sessions"] == from_cli.summary["sessions"]
    assert results.summary["seed"] == 3 and results.seed == 3
    assert results.path == str(tmp_path / "py")


@pytest.mark.full_scenario
def test_overrides_equal_the_cli_set(tmp_path):
    run_cli(QUICKSTART, "--set", "nrd.period=250ms", "--set", "topology.links.wan-b.delay=30ms", "--out",
            str(tmp_path / "cli"), "--quiet")
    results = dmm.run_scenario(QUICKSTART, overrides={"nrd.period": "250ms", "topology.links.wan-b.delay": "30ms"},
                               out=tmp_path / "py")
    assert_same_results(str(tmp_path / "cli"), str(tmp_path / "py"))
    assert results.overrides == {"nrd.period": "250ms", "topology.links.wan-b.delay": "30ms"}
    # Loaded back from the directories, both runs say how they were made.
    for directory in ["cli", "py"]:
        loaded = dmm.load_results(str(tmp_path / directory))
        assert loaded.overrides == {"nrd.period": "250ms", "topology.links.wan-b.delay": "30ms"}
        assert "period: 250ms" in loaded.scenario_yaml and "delay: 30ms" in loaded.scenario_yaml
    assert files_equal(str(tmp_path / "cli"), str(tmp_path / "py"), "scenario.yaml")


@pytest.mark.full_scenario
def test_same_seed_same_results_different_seed_different(quickstart):
    first, again, other = quickstart.run(seed=2), quickstart.run(seed=2), quickstart.run(seed=9)
    pd.testing.assert_frame_equal(first.sessions, again.sessions)
    pd.testing.assert_frame_equal(first.metrics, again.metrics)
    assert not first.sessions[["start_s", "end_s"]].equals(other.sessions[["start_s", "end_s"]])


@pytest.mark.full_scenario
def test_results_hold_every_file(quickstart):
    results = quickstart.run()
    assert list(results.sessions.columns[:3]) == ["session", "workload", "node"]
    assert len(results.sessions) == results.summary["sessions"]["total"] > 500
    assert set(results.metrics["stack"]) == {"fast", "slow"}
    assert list(results.policies.version) == list(range(1, len(results.policies) + 1))
    # The scripted link change, then the client's circuit breaker: sessions that lost their race on the slowed
    # `fast` without an answer mark it locally down, and it is retried 5 s later.
    assert results.events.event.tolist() == ["link", "local_health", "local_health"]
    assert results.passed and results.expectations.passed.all()
    assert results.path is None  # out=None: a temporary directory, gone after loading
    assert "quickstart" in repr(results)


def test_no_temporary_directory_is_left_behind(short, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # private: other tests may run at the same time

    class Fails(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            raise RuntimeError("no")

    short.run()
    with pytest.raises(dmm.ScenarioError):
        short.run(overrides={"nrd.period": "0s"})
    with pytest.raises(dmm.AlgorithmError):
        short.run(overrides={"nrd.algorithm": "python:Fails", "nrd.params": {}})
    assert os.listdir(tmp_path) == []


@pytest.mark.full_scenario
def test_failed_expectation_is_a_result_not_an_error(quickstart):
    results = quickstart.run(overrides={"nrd.algorithm": "static", "nrd.params": {}})
    assert not results.passed
    assert not results.expectations.passed.all()


@pytest.mark.full_scenario
def test_an_unusable_results_directory_raises_run_error_before_the_run(tmp_path, quickstart):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    # Issue 12: found before simulating (dmm-sim: bad input, exit 2; before: exit 3 after the whole run).
    cli = run_cli(QUICKSTART, "--out", str(blocker / "out"), "--quiet")
    assert cli.returncode == 2
    with pytest.raises(dmm.RunError) as info:
        quickstart.run(out=blocker / "out")
    assert "cannot create results directory" in str(info.value)
    assert str(info.value) in cli.stderr
    quickstart.run()  # the process is fine afterwards


def test_runs_do_not_nest(short):
    class Nested(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            short.run()  # a second simulation while this one runs: refused

    with pytest.raises(dmm.AlgorithmError) as info:
        short.run(overrides={"nrd.algorithm": "python:Nested", "nrd.params": {}})
    cause = info.value.__cause__
    assert isinstance(cause, dmm.RunError) and "another scenario is running" in str(cause)


def test_other_python_threads_run_while_simulating(short):
    # With no forced thread switches (a huge switch interval), the main thread below can only run while the
    # simulation thread has let go of the GIL. Between the algorithm's first and third decision the simulation
    # runs in C++ for a while: if it held the GIL there, the main thread could not count a single lap.
    laps = [0]
    seen_at_third = []
    first = threading.Event()
    done = threading.Event()

    class Watch(dmm.PolicyAlgorithm):
        calls = 0

        def decide(self, estimates, current):
            Watch.calls += 1
            if Watch.calls == 1:
                first.set()
            elif Watch.calls == 3:
                seen_at_third.append(laps[0])

    def simulate():
        try:
            short.run(overrides={"nrd.algorithm": "python:Watch", "nrd.params": {}})
        finally:
            done.set()

    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        runner = threading.Thread(target=simulate)
        runner.start()
        first.wait()
        while not done.is_set():
            laps[0] += 1
            time.sleep(0)  # lets the simulation thread take the GIL for its next decision
        runner.join()
    finally:
        sys.setswitchinterval(old)
    assert seen_at_third and seen_at_third[0] > 0


def test_pcap_traces(tmp_path, short):
    short.run(out=tmp_path / "out", pcap=True)
    traces = glob.glob(str(tmp_path / "out" / "pcap" / "*.pcap"))
    assert traces and all(os.path.getsize(t) > 24 for t in traces)
    with pytest.raises(ValueError):
        short.run(pcap=True)


@pytest.mark.full_scenario
def test_ctrl_c_stops_a_run_with_keyboard_interrupt(quickstart):
    # SIGINT arrives while the simulation runs (sent once the first decision has been made): the run stops
    # early and raises KeyboardInterrupt, as Ctrl-C or Jupyter's "interrupt kernel" would.
    started = threading.Event()
    calls = []

    class Watch(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            calls.append(estimates[0].last_sample_s)
            started.set()

    def interrupt():
        started.wait()
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=interrupt)
    sender.start()
    with pytest.raises(KeyboardInterrupt):
        quickstart.run(overrides={"nrd.algorithm": "python:Watch", "nrd.params": {}})
    sender.join()
    assert 1 <= len(calls) < 39  # stopped before the end
    assert quickstart.run().passed  # and the process runs scenarios as before


def test_results_say_how_they_were_made(short, tmp_path):
    results = short.run(seed=4, overrides={"nrd.period": "250ms"}, out=tmp_path / "run")
    provenance = results.provenance
    assert provenance["dmm_version"] == dmm.__version__ == dmm.build_info()["version"]
    assert provenance["git_commit"] == dmm.build_info()["git_commit"]
    assert provenance["ns3_version"] == dmm.build_info()["ns3_version"] == "3.37"
    assert provenance["scenario_file"] == QUICKSTART
    assert provenance["seed_option"] == 4
    assert provenance["overrides"][-1] == "nrd.period=250ms"
    invocation = results.invocation
    assert invocation["tool"] == "python dmm"
    assert invocation["command_line"][0].endswith("python3") or "python" in invocation["command_line"][0]
    assert invocation["host"]["cpus"] >= 1 and invocation["host"]["hostname"]
    assert invocation["working_directory"] == os.getcwd()
    # The copy of the scenario is what ran: loaded again, it gives the same run.
    copy = dmm.Scenario.from_yaml(results.scenario_yaml, file=str(tmp_path / "run" / "scenario.yaml"))
    assert copy.seed == 4 and copy.nrd["period_s"] == 0.25 and copy.duration_s == 3
    pd.testing.assert_frame_equal(copy.run().sessions, results.sessions)
    # A temporary run keeps its copy in memory.
    assert "seed: 4" in short.run(seed=4).scenario_yaml


def test_load_results_reads_the_overrides_of_a_cli_run(tmp_path):
    edits = ["duration=2s", "workloads.rpc.stop=2s", "workloads.bulk.size=1MB", "events=[]", "expect=[]"]
    run_cli(QUICKSTART, *[arg for edit in edits for arg in ("--set", edit)], "--out", str(tmp_path / "cli"),
            "--quiet", check_exit=0)
    loaded = dmm.load_results(str(tmp_path / "cli"))
    assert loaded.overrides == {"duration": "2s", "workloads.rpc.stop": "2s", "workloads.bulk.size": "1MB",
                                "events": "[]", "expect": "[]"}
    assert loaded.invocation["tool"] == "dmm-sim"


def test_version_is_the_tools_version():
    done = run_cli("--version", check_exit=0)
    assert done.stdout.startswith(f"dmm-sim {dmm.__version__} ")
    info = dmm.build_info()
    if info["git_commit"]:
        assert info["git_commit"][:12] in done.stdout
