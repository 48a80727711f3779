"""Loading scenarios from Python: the same checks and the same messages as dmm-sim, raised as ScenarioError
with file, line and column; what a loaded Scenario shows."""

from __future__ import annotations

import glob
import os
import pickle

import pytest

import dmm
from conftest import QUICKSTART, ROOT, run_cli, scenario_path

BAD_SCENARIOS = sorted(glob.glob(os.path.join(ROOT, "tests", "bad-scenarios", "*.yaml")))


def python_error(path: str) -> dmm.ScenarioError:
    """The ScenarioError Python gives for `path`: at load, or (for problems only the simulator finds, as with
    dmm-sim) when it runs."""
    try:
        scenario = dmm.load_scenario(path)
    except dmm.ScenarioError as err:
        return err
    with pytest.raises(dmm.ScenarioError) as info:
        scenario.run()
    return info.value


def test_the_bad_corpus_is_there():
    assert len(BAD_SCENARIOS) >= 90, "tests/bad-scenarios is missing"


@pytest.mark.parametrize("path", BAD_SCENARIOS, ids=os.path.basename)
def test_bad_scenario_gives_dmm_sims_message(path, tmp_path, no_python_algorithms):
    cli = run_cli(path, "--out", str(tmp_path / "out"), "--quiet")
    assert cli.returncode == 2, cli.stderr
    err = python_error(path)
    assert str(err) == cli.stderr.strip()
    assert isinstance(err, ValueError)
    # The location is taken apart for programs; every corpus error points into its file.
    assert err.file == path
    assert err.line >= 1 and err.column >= 1
    assert str(err) == f"{err.file}:{err.line}:{err.column}: {err.problem}"


def test_error_in_text_names_line_and_column():
    text = "name: t\nduration: 5s\ntopology:\n  nodes: [a, b]\n  links:\n    - {name: l, between: [a, c]}\n"
    with pytest.raises(dmm.ScenarioError) as info:
        dmm.Scenario.from_yaml(text, file="mine.yaml")
    err = info.value
    assert (err.file, err.line) == ("mine.yaml", 6)
    assert err.column > 1
    assert "'c'" in err.problem


def test_unreadable_files_are_reported_like_dmm_sim(tmp_path):
    for path in [str(tmp_path / "missing.yaml"), str(tmp_path)]:
        cli = run_cli(path, "--quiet")
        assert cli.returncode == 2
        with pytest.raises(dmm.ScenarioError) as info:
            dmm.load_scenario(path)
        assert str(info.value) == cli.stderr.strip()


def test_bad_override_gives_dmm_sims_message(quickstart, no_python_algorithms):
    for key, value in [("nrd.period", "fast"), ("topology.links.nowhere.delay", "5ms"), ("nrd.algorithm", "magic")]:
        cli = run_cli(QUICKSTART, "--set", f"{key}={value}", "--quiet")
        assert cli.returncode == 2
        with pytest.raises(dmm.ScenarioError) as info:
            quickstart.run(overrides={key: value})
        err = info.value
        assert str(err) == cli.stderr.strip()
        assert err.override == key and err.line is None


def test_override_values_are_written_as_yaml(quickstart):
    edited = quickstart.with_overrides({"nrd.period": "250ms", "nrd.params": {"hysteresis": 0.5},
                                        "topology.links.wan-a.loss": 0.01, "seed": 7})
    assert edited.nrd["period_s"] == 0.25
    assert edited.nrd["params"] == {"hysteresis": 0.5}
    assert edited.links[0]["loss"] == 0.01
    assert edited.seed == 7
    assert quickstart.nrd["period_s"] == 0.5  # the original is unchanged


def test_bad_seed_is_rejected(quickstart):
    for seed in (-1, 1.5, "3", True):
        with pytest.raises(dmm.ScenarioError, match="non-negative integer"):
            quickstart.run(seed=seed)


def test_unknown_algorithm_lists_the_known_ones(quickstart):
    class Known(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            return current

    with pytest.raises(dmm.ScenarioError) as info:
        quickstart.with_overrides({"nrd.algorithm": "python:Unknown", "nrd.params": {}})
    assert "python:Known" in str(info.value) and "min-rtt" in str(info.value)


def test_loaded_scenario_shows_what_the_loader_understood(quickstart):
    assert quickstart.name == "quickstart"
    assert quickstart.file == QUICKSTART
    assert quickstart.duration_s == 20.0 and quickstart.seed == 1
    assert quickstart.nodes == ("client", "server")
    assert [s["name"] for s in quickstart.stacks] == ["fast", "slow"]
    assert quickstart.stacks[1]["tcp"] == "newreno"
    assert quickstart.links[1] == {"name": "wan-b", "between": ("client", "server"), "rate_mbps": 20.0,
                                   "delay_ms": 40.0, "loss": 0.0, "queue_packets": 100}
    assert quickstart.nrd["algorithm"] == "min-rtt" and quickstart.nrd["params"] == {"hysteresis": 0.2}
    assert quickstart.policy.rules[0].use == ("fast", "slow")
    assert quickstart.policy.rules[0].match.intent == "latency"
    assert quickstart.workloads[1]["kind"] == "bulk"
    assert quickstart.events[0]["at_s"] == 10.0 and quickstart.events[0]["target"] == "link"
    assert len(quickstart.expect) == 4
    assert "min-rtt" in repr(quickstart)
    with open(QUICKSTART, encoding="utf-8") as handle:
        assert quickstart.yaml == handle.read()


def test_scenario_from_yaml_equals_the_file():
    with open(scenario_path("failover.yaml"), encoding="utf-8") as handle:
        text = handle.read()
    a = dmm.Scenario.from_yaml(text, file="failover.yaml")
    b = dmm.load_scenario(scenario_path("failover.yaml"))
    assert (a.name, a.stacks, a.workloads, a.expect) == (b.name, b.stacks, b.workloads, b.expect)
    assert a.file == "failover.yaml"


def test_scenario_pickles_with_its_edits(quickstart):
    edited = quickstart.with_overrides({"nrd.period": "1s"}, seed=4)
    copy = pickle.loads(pickle.dumps(edited))
    assert copy.nrd["period_s"] == 1.0 and copy.seed == 4 and copy.overrides == edited.overrides


def test_help_is_useful():
    text = dmm.Scenario.__doc__ + dmm.Scenario.run.__doc__
    for words in ["load_scenario", "from_yaml", "FILE:LINE:COL", "overrides", "seed", "Results"]:
        assert words in text


def test_workloads_show_every_parameter():
    scenario = dmm.Scenario.from_yaml("""
name: all-kinds
duration: 10s
topology: {nodes: [a, b], links: [{name: l, between: [a, b]}]}
stacks: [{name: s, node: a, kind: kernel, link: l}]
policy: [{match: {}, use: [s]}]
workloads:
  - {name: rpc, kind: request-response, from: a, to: b, port: 80, rate: 20/s, response: 4KiB}
  - {name: bulk, kind: bulk, from: a, to: b, port: 81, size: 2MB, count: 3, start: 1s, stop: 9s}
  - {name: video, kind: on-off, proto: udp, from: a, to: b, port: 82, on: 2s, off: 500ms, send_rate: 5Mbps}
""")
    rpc, bulk, video = scenario.workloads
    common = {"name", "kind", "from", "to", "port", "proto", "intent", "start_s", "stop_s", "rate_per_s", "count"}
    assert set(rpc) == common | {"request_bytes", "response_bytes"}
    assert (rpc["rate_per_s"], rpc["count"], rpc["request_bytes"], rpc["response_bytes"]) == (20.0, None, 200, 4096)
    assert set(bulk) == common | {"size_bytes"}
    assert (bulk["rate_per_s"], bulk["count"], bulk["size_bytes"], bulk["start_s"], bulk["stop_s"]) == \
        (None, 3, 2_000_000, 1.0, 9.0)
    assert set(video) == common | {"on_s", "off_s", "send_rate_mbps"}
    assert (video["proto"], video["on_s"], video["off_s"], video["send_rate_mbps"], video["count"]) == \
        ("udp", 2.0, 0.5, 5.0, 1)
def test_loader_warnings_are_visible(quickstart):
    # Issue 12: an algorithm override drops the file's parameters the new algorithm does not take, and says so
    # (before: a ScenarioError "algorithm 'static' takes no parameters").
    edited = quickstart.with_overrides({"nrd.algorithm": "static"})
    assert edited.nrd["algorithm"] == "static" and edited.nrd["params"] == {}
    assert len(edited.warnings) == 1 and "nrd.params.hysteresis" in edited.warnings[0]
    assert quickstart.warnings == ()
