"""Policy algorithms written in Python, run by nRD in the simulator: registered by name, fed the same estimates
and policies as C++ ones, able to change decisions, and failing cleanly (traceback kept, run stopped, process
fine, Python objects released)."""

from __future__ import annotations

import gc
import os
import traceback
import weakref

import pandas as pd
import pytest

import dmm
from conftest import RESULT_FILES, files_equal, sessions_by_stack

NO_PARAMS = {"nrd.params": {}}


def with_algorithm(name: str, **params) -> dict:
    return {"nrd.algorithm": name, "nrd.params": params}


def test_subclasses_register_under_python_names():
    class Mine(dmm.PolicyAlgorithm):
        params = {"budget_ms": 100}

        def decide(self, estimates, current):
            return current

    class Named(dmm.PolicyAlgorithm):
        name = "other-name"

        def decide(self, estimates, current):
            return current

    class Abstract(dmm.PolicyAlgorithm, register=False):
        pass

    known = dmm.algorithms()
    assert known["python:Mine"] == {"budget_ms": 100.0}
    assert "python:other-name" in known and "python:Abstract" not in known
    assert known["min-rtt"] == {"hysteresis": 0.2}
    dmm.unregister_algorithm("Mine")
    assert "python:Mine" not in dmm.algorithms()
    with pytest.raises(KeyError):
        dmm.unregister_algorithm("python:Mine")


def test_bad_registrations_are_refused():
    with pytest.raises(TypeError, match="numbers"):
        class TextParam(dmm.PolicyAlgorithm):
            params = {"mode": "fast"}

            def decide(self, estimates, current):
                return current

    with pytest.raises(TypeError, match="decide"):
        dmm.register_algorithm(type("NoDecide", (), {}))


@pytest.mark.full_scenario
def test_a_python_algorithm_changes_decisions(quickstart):
    class PreferSlow(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            return current.reorder(lambda stack: 0 if stack == "slow" else 1)

    baseline = quickstart.run()
    mine = quickstart.run(overrides=with_algorithm("python:PreferSlow"))
    # Before the link degrades, min-rtt keeps the RPCs on `fast`; the Python algorithm moves them to `slow`
    # from its first decision (0.5 s) on.
    before = sessions_by_stack(baseline, "rpc", 1.0, 10.0)
    after = sessions_by_stack(mine, "rpc", 1.0, 10.0)
    assert before.get("fast", 0) > 0.9 * sum(before.values())
    assert after.get("slow", 0) > 0.9 * sum(after.values())
    assert mine.policies.reason.iloc[1].startswith("ranking changed")
    assert mine.policies.time_s.iloc[1] == pytest.approx(0.5)


@pytest.mark.full_scenario
@pytest.mark.parametrize("cpp, port", [("min-rtt", "python:MinRtt"), ("weighted", "python:Weighted")])
def test_python_ports_decide_exactly_like_the_cpp_algorithms(tmp_path, quickstart, cpp, port, examples):
    # Same decisions, same reasons, same sessions: the algorithm saw exactly what the C++ one sees.
    edits = {"nrd.period": "250ms", "topology.links.wan-b.loss": 0.002}  # loss: the weighted cost uses it
    cpp_results = quickstart.run(out=tmp_path / "cpp", overrides={**edits, **with_algorithm(cpp)})
    quickstart.run(out=tmp_path / "py", overrides={**edits, **with_algorithm(port)})
    assert len(cpp_results.policies) >= 2
    for name in RESULT_FILES:
        assert files_equal(tmp_path / "cpp", tmp_path / "py", name), name


def test_parameters_reach_the_instance(short):
    seen = []

    class Tunable(dmm.PolicyAlgorithm):
        params = {"threshold": 1.0, "other": 2}

        def decide(self, estimates, current):
            seen.append(dict(self.params))

    short.run(overrides=with_algorithm("python:Tunable", threshold=7.5))
    assert seen and seen[0] == {"threshold": 7.5, "other": 2.0}
    with pytest.raises(dmm.ScenarioError, match="unknown key 'nope'"):
        short.run(overrides=with_algorithm("python:Tunable", nope=1))


@pytest.mark.full_scenario
def test_decide_gets_estimates_and_the_policy_in_force(quickstart):
    calls = []

    class Recorder(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            calls.append((list(estimates), current))
            return current.reorder(lambda stack: 0 if stack == "slow" else 1)

    results = quickstart.run(overrides=with_algorithm("python:Recorder"))
    assert len(calls) == results.metrics.time_s.nunique() == 39  # every 500 ms, before the end at 20 s
    estimates, first_policy = calls[0]
    assert [e.stack for e in estimates] == ["fast", "slow"]
    assert all(isinstance(e, dmm.StackEstimate) for e in estimates)
    assert first_policy.version == 1 and first_policy.rules[0].use == ("fast", "slow")
    assert calls[1][1].version == 2 and calls[1][1].rules[0].use == ("slow", "fast")
    # The estimates are nRD's: the same values metrics.csv records for that period.
    last_estimates = {e.stack: e for e in calls[-1][0]}
    final = results.metrics[results.metrics.time_s == results.metrics.time_s.max()].set_index("stack")
    for stack, estimate in last_estimates.items():
        assert estimate.rtt_ms == pytest.approx(final.loc[stack, "rtt_ms"], abs=1e-3)
        assert estimate.healthy == final.loc[stack, "healthy"]


def test_an_exception_stops_the_run_with_its_traceback(tmp_path, short):
    class Boom(dmm.PolicyAlgorithm):
        calls = 0

        def decide(self, estimates, current):
            Boom.calls += 1
            if Boom.calls == 3:
                return self.explode(estimates)

        def explode(self, estimates):
            return estimates[0].rtt_ms / 0

    with pytest.raises(dmm.AlgorithmError) as info:
        short.run(out=tmp_path / "out", overrides=with_algorithm("python:Boom"))
    err = info.value
    assert err.algorithm == "python:Boom"
    assert "decide() (call 3)" in str(err) and "ZeroDivisionError" in str(err)
    assert isinstance(err, dmm.RunError)
    cause = err.__cause__
    assert isinstance(cause, ZeroDivisionError)
    frames = [frame.name for frame in traceback.extract_tb(cause.__traceback__)]
    assert frames[-2:] == ["decide", "explode"]
    assert Boom.calls == 3  # stopped at once: no decision after the failing one
    assert not os.path.exists(tmp_path / "out")  # like dmm-sim's runtime failure: no results
    # The process is fine: the next run is a normal one.
    assert len(short.run().sessions) > 50


@pytest.mark.parametrize("returned, kind, words", [
    (lambda current: [list(r.use) for r in current.rules], TypeError, "returned list"),
    (lambda current: current.replace(rules=[dmm.Rule(None, ["fast", "nowhere"])]), ValueError, "'nowhere'"),
    (lambda current: current.replace(rules=[dmm.Rule(None, [])]), ValueError, "invalid policy"),
])
def test_a_bad_return_value_stops_the_run(short, returned, kind, words):
    class Bad(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            return returned(current)

    with pytest.raises(dmm.AlgorithmError) as info:
        short.run(overrides=with_algorithm("python:Bad"))
    assert isinstance(info.value.__cause__, kind)
    assert words in str(info.value)


def test_a_constructor_that_rejects_its_parameters_is_bad_input(short):
    class Picky(dmm.PolicyAlgorithm):
        params = {"budget_ms": 100}

        def __init__(self, **params):
            super().__init__(**params)
            if self.params["budget_ms"] <= 0:
                raise ValueError("budget_ms must be positive")

        def decide(self, estimates, current):
            return current

    with pytest.raises(dmm.ScenarioError) as info:
        short.run(overrides=with_algorithm("python:Picky", budget_ms=-5))
    err = info.value
    assert err.line is not None and "could not be created" in err.problem and "budget_ms must be positive" in str(err)
    assert isinstance(err.__cause__, ValueError)
    assert short.run(overrides=with_algorithm("python:Picky", budget_ms=5)).passed


def test_keyboard_interrupt_in_decide_stays_a_keyboard_interrupt(short):
    class Interrupted(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        short.run(overrides=with_algorithm("python:Interrupted"))
    assert short.run().passed


def test_instances_live_for_the_run_and_are_released_after(short):
    alive = weakref.WeakSet()
    made = []

    class Tracked(dmm.PolicyAlgorithm):
        def __init__(self, **params):
            super().__init__(**params)
            alive.add(self)
            made.append(id(self))

        def decide(self, estimates, current):
            assert self in alive
            return current

    short.run(overrides=with_algorithm("python:Tracked"))
    # One instance to check the parameters at load, one for the run; none kept by C++ afterwards.
    assert len(made) == 2
    gc.collect()
    assert len(alive) == 0


def test_a_failed_run_releases_its_objects_too(short):
    alive = weakref.WeakSet()

    class Failing(dmm.PolicyAlgorithm):
        def __init__(self, **params):
            super().__init__(**params)
            alive.add(self)

        def decide(self, estimates, current):
            raise RuntimeError("no")

    with pytest.raises(dmm.AlgorithmError) as info:
        short.run(overrides=with_algorithm("python:Failing"))
    del info  # the traceback holds decide's frame, and with it `self`
    gc.collect()
    assert len(alive) == 0


def test_builtin_algorithms_can_be_called_from_python(examples):
    policy = dmm.Policy([dmm.Rule(dmm.Match(intent="latency"), ["a", "b"]), dmm.Rule(None, ["a", "b"])])
    estimates = [dmm.StackEstimate("a", rtt_ms=50.0), dmm.StackEstimate("b", rtt_ms=10.0)]
    decided = dmm.BuiltinAlgorithm("min-rtt", {"hysteresis": 0.2}).decide(estimates, policy)
    assert [r.use for r in decided.rules] == [("b", "a"), ("b", "a")]
    assert "b ahead of a" in decided.reason
    # ... and the Python port agrees with it
    ported = examples.MinRtt().decide(estimates, policy)  # made by hand: the defaults fill in
    assert ported.rules == decided.rules and ported.reason == decided.reason
    # within the hysteresis nothing moves
    close = [dmm.StackEstimate("a", rtt_ms=11.0), dmm.StackEstimate("b", rtt_ms=10.0)]
    assert dmm.BuiltinAlgorithm("min-rtt").decide(close, policy).rules == policy.rules
    with pytest.raises(ValueError, match="unknown algorithm"):
        dmm.BuiltinAlgorithm("nope")
    with pytest.raises(ValueError, match="no parameter"):
        dmm.BuiltinAlgorithm("min-rtt", {"speed": 1.0})


def test_algorithms_made_by_hand_take_their_defaults(examples):
    assert examples.Weighted(loss_weight=2).params == {"hysteresis": 0.2, "rtt_weight": 1.0, "goodput_weight": 1.0,
                                                       "loss_weight": 2}
    with pytest.raises(TypeError, match="no parameter 'speed'"):
        examples.MinRtt(speed=3)


def test_estimates_are_checked_and_read_only():
    e = dmm.StackEstimate("a", rtt_ms=12.5, goodput_mbps=80, loss=0.01, failures=1, healthy=False)
    assert (e.stack, e.rtt_ms, e.goodput_mbps, e.loss, e.failures, e.healthy) == ("a", 12.5, 80.0, 0.01, 1, False)
    assert dmm.StackEstimate("b").rtt_ms is None
    with pytest.raises(AttributeError):
        e.rtt_ms = 3
    with pytest.raises(ValueError):
        dmm.StackEstimate("a", loss=2)
    with pytest.raises(ValueError):
        dmm.StackEstimate("a", rtt_ms=-1)
    assert "rtt_ms=12.5" in repr(e)
    assert e.capacity_mbps is None
    c = dmm.StackEstimate("a", goodput_mbps=3, capacity_mbps=50)
    assert c.capacity_mbps == 50.0 and "capacity_mbps=50.0" in repr(c)
    with pytest.raises(ValueError):
        dmm.StackEstimate("a", capacity_mbps=-1)


def test_throughput_ranking_uses_capacity_where_known_in_cpp_and_in_the_port(examples):
    # "a" is busy (goodput follows demand: 20 Mbit/s), "b" idle but measured by a backlogged sender at 50 Mbit/s.
    policy = dmm.Policy([dmm.Rule(dmm.Match(intent="bulk"), ["a", "b"])])
    estimates = [dmm.StackEstimate("a", rtt_ms=20.0, goodput_mbps=20.0),
                 dmm.StackEstimate("b", rtt_ms=20.0, goodput_mbps=3.0, capacity_mbps=50.0)]
    for name in ("max-goodput", "weighted"):
        decided = dmm.BuiltinAlgorithm(name).decide(estimates, policy)
        assert decided.rules[0].use == ("b", "a"), name
    ported = examples.Weighted().decide(estimates, policy)
    assert ported.rules == dmm.BuiltinAlgorithm("weighted").decide(estimates, policy).rules
    # without the capacity estimate, demand alone keeps the busy path first
    demand_only = [estimates[0], dmm.StackEstimate("b", rtt_ms=20.0, goodput_mbps=3.0)]
    assert dmm.BuiltinAlgorithm("max-goodput").decide(demand_only, policy).rules[0].use == ("a", "b")


def test_registry_sees_classes_in_the_order_they_are_defined(short):
    # A notebook cell run twice redefines the class: the latest definition is the one that runs.
    class Again(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            raise RuntimeError("old definition")

    class Again(dmm.PolicyAlgorithm):  # noqa: F811
        def decide(self, estimates, current):
            return current

    assert len(short.run(overrides=with_algorithm("python:Again")).policies) == 1  # the new one ran, and kept


def test_results_of_a_python_algorithm_are_plain_results(short):
    class Keep(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            return None

    results = short.run(overrides=with_algorithm("python:Keep"))
    assert isinstance(results.sessions, pd.DataFrame)
    assert len(results.policies) == 1  # never changed anything


@pytest.mark.full_scenario
def test_a_scenario_names_a_python_algorithm_in_its_yaml(quickstart):
    class SlowFirst(dmm.PolicyAlgorithm):
        params = {"hysteresis": 0.2}

        def decide(self, estimates, current):
            return current.reorder(lambda stack: stack != "slow")

    text = quickstart.yaml.replace("algorithm: min-rtt", "algorithm: python:SlowFirst")
    assert "python:SlowFirst" in text
    scenario = dmm.Scenario.from_yaml(text, file="inline.yaml")
    assert scenario.nrd["algorithm"] == "python:SlowFirst"
    counts = sessions_by_stack(scenario.run(), "rpc", 1.0, 10.0)
    assert counts.get("slow", 0) > 0.9 * sum(counts.values())
    dmm.unregister_algorithm("SlowFirst")
    with pytest.raises(dmm.ScenarioError, match="inline.yaml:.*unknown algorithm 'python:SlowFirst'"):
        scenario.run()
