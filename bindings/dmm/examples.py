"""Example policy algorithms written in Python. Importing this module registers them.

`MinRtt` is a line-by-line port of the C++ `min-rtt` algorithm (core/src/algorithm_min_rtt.cpp and the re-ranking
with hysteresis in core/src/ranking.cpp): the tests check that it makes exactly the decisions the C++ one makes
(so the bindings hand algorithms the same estimates and policies nRD has), and the benchmark
(bindings/bench/python_algorithm_bench.py) times one against the other. Start a new algorithm from it.
"""

from __future__ import annotations

from typing import Optional, Sequence

from . import _dmm
from ._algorithms import PolicyAlgorithm

_HEALTHY_WITH_COST, _HEALTHY_WITHOUT_COST, _UNHEALTHY = 0, 1, 2


class MinRtt(PolicyAlgorithm):
    """Lowest smoothed RTT first. A stack overtakes the one ranked above it only when its RTT is lower by more
    than the `hysteresis` fraction, so noise does not flap the policy. Healthy stacks without an RTT estimate
    keep their order after those with one; unhealthy stacks go last."""

    params = {"hysteresis": 0.2}

    def decide(self, estimates: Sequence[_dmm.StackEstimate], current: _dmm.Policy) -> _dmm.Policy:
        by_stack = {e.stack: e for e in estimates}
        keep = 1.0 - self.params["hysteresis"]
        reason = ""
        rules = []
        for index, rule in enumerate(current.rules):
            ranked = [self._ranked(stack, by_stack.get(stack)) for stack in rule.use]
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
                    reason += f" (rtt_ms {ranked[0][1]:.3g})"
            rules.append(rule.replace(use=use))
        return current.replace(rules=rules, reason=reason or current.reason)

    @staticmethod
    def _ranked(stack: str, estimate: Optional[_dmm.StackEstimate]):
        if estimate is not None and not estimate.healthy:
            return _UNHEALTHY, None, stack
        cost = estimate.rtt_ms if estimate is not None else None
        return (_HEALTHY_WITH_COST if cost is not None else _HEALTHY_WITHOUT_COST), cost, stack

    @staticmethod
    def _ahead(a, b, keep: float) -> bool:
        if a[0] != b[0]:
            return a[0] < b[0]
        if a[0] != _HEALTHY_WITH_COST:
            return False
        return a[1] < b[1] * keep
