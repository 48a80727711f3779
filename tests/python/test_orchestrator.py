"""Policies and the orchestrator as Python objects, for unit experiments without a simulation."""

from __future__ import annotations

import json

import pytest

import dmm

SERVER = "10.255.0.2"


def two_rule_policy(version: int = 1, down=()) -> dmm.Policy:
    return dmm.Policy([dmm.Rule(dmm.Match(dst=SERVER, intent="latency"), ["fast", "slow"]),
                       dmm.Rule(dmm.Match(port=(5000, 5999), proto="tcp"), ["slow"]),
                       dmm.Rule(None, ["slow", "fast"])], version=version, down=list(down))


def test_select_follows_the_first_matching_rule():
    o = dmm.Orchestrator(["fast", "slow"], two_rule_policy())
    choice = o.select(dmm.SessionRequest(SERVER, 80, intent="latency"))
    assert (choice.stack, choice.rule, choice.version, choice.ranked) == ("fast", 0, 1, ("fast", "slow"))
    assert o.select(SERVER, 5001).stack == "slow" and o.select(SERVER, 5001).rule == 1
    assert o.select("10.9.9.9", 80, intent="latency").rule == 2  # another destination: the catch-all
    assert o.select(SERVER, 80, proto="udp").rule == 2


def test_no_matching_rule_is_a_lookup_error():
    o = dmm.Orchestrator(["fast"], dmm.Policy([dmm.Rule(dmm.Match(port=80), ["fast"])]))
    with pytest.raises(LookupError, match="no rule matches"):
        o.select(SERVER, 81)


def test_unhealthy_stacks_are_skipped_while_another_is_healthy():
    o = dmm.Orchestrator(["fast", "slow"], two_rule_policy())
    o.set_local_health("fast", False)
    choice = o.select(SERVER, 80, intent="latency")
    assert choice.stack == "slow" and choice.ranked == ("slow", "fast")
    o.set_local_health("slow", False)
    assert o.select(SERVER, 80, intent="latency").all_unhealthy
    with pytest.raises(KeyError, match="unknown stack 'nope'"):
        o.set_local_health("nope", True)


def test_apply_installs_newer_versions_and_rejects_the_rest():
    o = dmm.Orchestrator(["fast", "slow"], two_rule_policy())
    newer = two_rule_policy(version=2, down=["fast"])
    o.apply(newer)
    assert o.version == 2 and o.policy == newer
    assert o.select(SERVER, 80, intent="latency").stack == "slow"  # nRD says fast is down
    with pytest.raises(ValueError, match="not newer"):
        o.apply(two_rule_policy(version=2))
    with pytest.raises(ValueError, match="unknown stack"):
        o.apply(dmm.Policy([dmm.Rule(None, ["other"])], version=3))
    assert o.version == 2
    assert o.counters == {"applied": 1, "rejected_stale": 1, "rejected_invalid": 1}


def test_an_invalid_initial_policy_is_refused():
    with pytest.raises(ValueError, match="initial policy"):
        dmm.Orchestrator(["fast"], dmm.Policy([dmm.Rule(None, ["slow"])]))
    with pytest.raises(ValueError, match="listed twice"):
        dmm.Orchestrator(["fast", "fast"], dmm.Policy([dmm.Rule(None, ["fast"])]))


def test_policies_are_values():
    p = two_rule_policy()
    assert p.rules[0].use == ("fast", "slow") and isinstance(p.rules, tuple)
    with pytest.raises(AttributeError):
        p.rules[0].use.append("x")  # a tuple: no silent edit of a copy
    with pytest.raises(AttributeError):
        p.version = 3
    changed = p.replace(reason="mine", down=["slow"])
    assert (changed.reason, changed.down, p.reason, p.down) == ("mine", ("slow",), "", ())
    assert p.same_decisions(p.replace(reason="other", version=9))
    assert not p.same_decisions(changed)
    assert p == two_rule_policy() and p != changed
    rule = p.rules[0].replace(use=["slow", "fast"])
    assert rule.use == ("slow", "fast") and rule.match == p.rules[0].match


def test_reorder_sorts_every_rule_stably():
    p = two_rule_policy()
    rtt = {"fast": 30.0, "slow": 10.0}
    reordered = p.reorder(lambda stack: rtt[stack])
    assert [r.use for r in reordered.rules] == [("slow", "fast"), ("slow",), ("slow", "fast")]
    assert p.reorder(lambda stack: 0).rules == p.rules  # equal keys keep the order
    with pytest.raises(ZeroDivisionError):
        p.reorder(lambda stack: 1 / 0)


def test_matches_and_requests_check_their_values():
    m = dmm.Match(dst="10.0.0.0/8", port=(80, 90), proto="udp", intent="bulk")
    assert (m.dst, m.ports, m.proto, m.intent) == ("10.0.0.0/8", (80, 90), "udp", "bulk")
    assert dmm.Match(port=443).ports == (443, 443)
    assert dmm.Match().dst is None and repr(dmm.Match()) == "Match(*)"
    assert m.matches(dmm.SessionRequest("10.1.2.3", 85, proto="udp", intent="bulk"))
    assert not m.matches(dmm.SessionRequest("11.1.2.3", 85, proto="udp", intent="bulk"))
    for bad in [dict(dst="10.0.0.0/33"), dict(port=0), dict(port=(90, 80)), dict(proto="sctp"),
                dict(intent="fast"), dict(port="80")]:
        with pytest.raises(ValueError):
            dmm.Match(**bad)
    with pytest.raises(ValueError):
        dmm.SessionRequest("not-an-address", 80)


def test_validate_and_json():
    p = two_rule_policy()
    p.validate(["fast", "slow"])
    with pytest.raises(ValueError, match="unknown stack"):
        p.validate(["fast"])
    line = json.loads(p.to_json())
    assert line["version"] == 1 and line["rules"][1]["match"] == {"port": "5000-5999", "proto": "tcp"}
    assert line["rules"][0]["use"] == ["fast", "slow"]


def test_rules_say_how_their_stacks_are_raced():
    default = dmm.Rule(None, ["fast", "slow"])
    assert (default.race, default.attempt_delay) == ("staggered", "auto")
    rule = dmm.Rule(None, ["fast", "slow"], race="failover", attempt_delay="300ms")
    assert (rule.race, rule.attempt_delay) == ("failover", "300ms")
    assert rule != default and rule.replace(race="staggered", attempt_delay="auto") == default
    assert "race=failover" in repr(rule) and "attempt_delay=300ms" in repr(rule)
    with pytest.raises(ValueError, match="unknown race 'eager'"):
        dmm.Rule(None, ["fast"], race="eager")
    for bad in ["5ms", "20s", "soon"]:
        with pytest.raises(ValueError, match="attempt_delay"):
            dmm.Rule(None, ["fast"], attempt_delay=bad)
    # In the policy's JSON (policy.jsonl, dmm-nrd's messages), and read back the same.
    policy = dmm.Policy([rule, default])
    line = json.loads(policy.to_json())
    assert line["rules"][0]["race"] == "failover" and line["rules"][0]["attempt_delay"] == "300ms"
    assert "race" not in line["rules"][1] and "attempt_delay" not in line["rules"][1]  # the defaults, as before racing
    orch = dmm.Orchestrator(["fast", "slow"], policy)
    assert orch.policy.rules[0] == rule
