"""Example policy algorithms written in Python. Importing this module registers them.

`MinRtt` and `Weighted` are line-by-line ports of the C++ `min-rtt` and `weighted` algorithms
(core/src/algorithm_min_rtt.cpp, core/src/algorithm_weighted.cpp, and the re-ranking with hysteresis they share,
core/src/ranking.cpp). The tests check that they make exactly the decisions the C++ ones make — so the bindings
hand algorithms the same estimates and policies nRD has — and the benchmark
(bindings/bench/python_algorithm_bench.py) times one against the other. Start a new algorithm from them.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from . import _dmm
from ._algorithms import PolicyAlgorithm

_WITH_COST, _WITHOUT_COST, _UNHEALTHY = 0, 1, 2


class Reranking(PolicyAlgorithm, register=False):
    """Re-ranks each rule's `use` list by a cost per stack (lower is better), with hysteresis: a stack overtakes
    the one ranked above it only when its cost is lower by more than the `hysteresis` fraction, so noise does
    not flap the policy. Healthy stacks without a cost keep their order after those with one; unhealthy stacks
    go last. Subclasses define `cost` (and `prepare` for what all stacks share in one decision)."""

    metric = "cost"  # names the cost in the policy's reason

    def prepare(self, estimates: Sequence[_dmm.StackEstimate]) -> Any:
        return None

    def cost(self, estimate: _dmm.StackEstimate, rule: _dmm.Rule, prepared: Any) -> Optional[float]:
        raise NotImplementedError

    def decide(self, estimates: Sequence[_dmm.StackEstimate], current: _dmm.Policy) -> _dmm.Policy:
        by_stack = {e.stack: e for e in estimates}
        prepared = self.prepare(estimates)
        keep = 1.0 - self.params["hysteresis"]
        reason = ""
        rules = []
        for index, rule in enumerate(current.rules):
            ranked = [self._ranked(stack, by_stack.get(stack), rule, prepared) for stack in rule.use]
            # Insertion sort with a "clearly better" test, as in C++: stable and deterministic although
            # "clearly better" is not a strict weak ordering.
            for i in range(1, len(ranked)):
                j = i
                while j > 0 and self._ahead(ranked[j], ranked[j - 1], keep):
                    ranked[j], ranked[j - 1] = ranked[j - 1], ranked[j]
                    j -= 1
            use = [stack for _, _, stack in ranked]
            if not reason and use and use[0] != rule.use[0]:
                reason = f"rule {index}: {use[0]} ahead of {rule.use[0]}"
                if ranked[0][1] is not None:
                    reason += f" ({self.metric} {ranked[0][1]:.3g})"
            rules.append(rule.replace(use=use))
        return current.replace(rules=rules, reason=reason or current.reason)

    def _ranked(self, stack: str, estimate: Optional[_dmm.StackEstimate], rule: _dmm.Rule, prepared: Any):
        if estimate is not None and not estimate.healthy:
            return _UNHEALTHY, None, stack
        cost = self.cost(estimate, rule, prepared) if estimate is not None else None
        return (_WITH_COST if cost is not None else _WITHOUT_COST), cost, stack

    @staticmethod
    def _ahead(a, b, keep: float) -> bool:
        if a[0] != b[0]:
            return a[0] < b[0]
        if a[0] != _WITH_COST:
            return False
        return a[1] < b[1] * keep


class MinRtt(Reranking):
    """Lowest smoothed RTT first (the C++ `min-rtt`)."""

    params = {"hysteresis": 0.2}
    metric = "rtt_ms"

    def cost(self, estimate, rule, prepared):
        return estimate.rtt_ms


def throughput_bound_mbps(estimate):
    """The higher of nRD's capacity and goodput estimates (both are rates the path was seen to carry), None without
    either: what the C++ algorithms rank throughput by (`throughput_bound_bps`)."""
    rates = [r for r in (estimate.goodput_mbps, estimate.capacity_mbps) if r is not None and r > 0]
    return max(rates) if rates else None


class Weighted(Reranking):
    """A cost mixing RTT, throughput (capacity or goodput estimate) and loss, each relative to the best stack's,
    weighted by the rule's intent: latency rules care little about throughput, throughput and bulk rules little
    about RTT (the C++ `weighted`)."""

    params = {"hysteresis": 0.2, "rtt_weight": 1.0, "goodput_weight": 1.0, "loss_weight": 10.0}
    MINOR = 0.25

    def prepare(self, estimates):
        rtts = [e.rtt_ms for e in estimates if e.healthy and e.rtt_ms is not None and e.rtt_ms > 0]
        goodputs = [throughput_bound_mbps(e) for e in estimates if e.healthy and throughput_bound_mbps(e) is not None]
        return min(rtts, default=math.inf), max(goodputs, default=0.0)

    def cost(self, estimate, rule, prepared):
        goodput = throughput_bound_mbps(estimate)
        if estimate.rtt_ms is None and goodput is None:
            return None
        best_rtt, best_goodput = prepared
        rtt_w, goodput_w = self.params["rtt_weight"], self.params["goodput_weight"]
        intent = rule.match.intent
        if intent == "latency":
            goodput_w *= self.MINOR
        elif intent in ("throughput", "bulk"):
            rtt_w *= self.MINOR
        cost = self.params["loss_weight"] * estimate.loss * 100.0
        rtt = estimate.rtt_ms
        cost += rtt_w * (rtt / best_rtt if rtt is not None and rtt > 0 else 1.0)
        cost += goodput_w * (best_goodput / goodput if goodput is not None else 1.0)
        return cost
