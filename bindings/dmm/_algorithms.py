"""Policy algorithms written in Python: the base class and the registry that makes them usable by name."""

from __future__ import annotations

import numbers
import warnings
from typing import ClassVar, Mapping, Optional, Sequence

from . import _dmm

PREFIX = "python:"

# Python algorithm classes by scenario name (`python:Name`). Scenarios refer to algorithms by name, so there has
# to be one place that maps names to classes; it lives for the process, like the classes themselves.
_registry: dict[str, type] = {}


class PolicyAlgorithm:
    """Base class for a policy algorithm written in Python.

    Subclass it and implement `decide`; the class registers itself under `python:<ClassName>` (or
    `python:<name>` when it sets the class attribute `name`), and every scenario run from this process can then
    use it (`nrd: {algorithm: python:MyAlgo}` in the YAML, or `overrides={"nrd.algorithm": "python:MyAlgo"}`)::

        class LowestLoss(dmm.PolicyAlgorithm):
            params = {"hysteresis": 0.1}          # accepted parameters and their defaults (numbers)

            def decide(self, estimates, current):
                loss = {e.stack: e.loss for e in estimates if e.healthy}
                return current.reorder(lambda stack: loss.get(stack, 1.0))

    For each run nRD makes one instance, `LowestLoss(**params)` (the defaults merged with the scenario's
    `nrd.params`; the base class keeps them in `self.params`, and fills in defaults when you make one by hand),
    and every `nrd.period` calls `decide(estimates, current)`:

    - `estimates`: a list of `dmm.StackEstimate`, one per stack instance name (RTT, goodput, loss, failures,
      health as nRD smoothed them);
    - `current`: the `dmm.Policy` in force.

    Return the Policy you want in force (`current` itself, or None, keeps it; nRD publishes a new version only
    when the rules differ, and sets `down` from its own health findings). Anything else, or an exception, stops
    the run: `Scenario.run` raises `dmm.AlgorithmError` whose `__cause__` is your exception with its traceback.
    The simulation waits while `decide` runs (simulated time does not advance), so its speed only costs wall time.

    Define `__init__(self, **params)` to check parameters (raise ValueError to reject them: the scenario load
    then fails at its `nrd:` section); call `super().__init__(**params)`.
    Pass `register=False` in the class statement for a base class that is not an algorithm itself.
    """

    name: ClassVar[Optional[str]] = None
    params: ClassVar[Mapping[str, float]] = {}

    def __init_subclass__(cls, register: bool = True, **kwargs):
        super().__init_subclass__(**kwargs)
        # A class whose module is `types` is a skeleton cloudpickle is rebuilding on a Dask worker (types.new_class
        # runs the class statement's machinery before the body arrives): registering it would replace the real
        # class with one without decide(), and cloudpickle may then keep the real class and drop the skeleton. The
        # campaign registers the rebuilt class itself (dmm._campaign_worker.run_one).
        if register and cls.__module__ != "types":
            register_algorithm(cls)

    def __init__(self, **params: float):
        # nRD passes every parameter (defaults merged by the loader); made by hand, missing ones take the defaults.
        defaults = dict(getattr(type(self), "params", {}) or {})
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no parameter {', '.join(map(repr, unknown))} "
                            f"(parameters: {', '.join(defaults) or 'none'})")
        self.params = {**defaults, **params}

    def decide(self, estimates: Sequence[_dmm.StackEstimate], current: _dmm.Policy) -> Optional[_dmm.Policy]:
        """Return the policy to put in force (or None / `current` to keep it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement decide(estimates, current)")


def scenario_name(cls: type) -> str:
    """The name scenarios use for a Python algorithm class: `python:<cls.name or cls.__name__>`."""
    return PREFIX + (getattr(cls, "name", None) or cls.__name__)


def register_algorithm(cls: type, name: Optional[str] = None) -> str:
    """Make `cls` usable by scenarios; returns its scenario name (`python:...`).

    Subclasses of PolicyAlgorithm call this themselves. Any class works whose instances, made as
    `cls(**params)`, have `decide(estimates, current)`. Registering a class under a name taken by another class
    replaces it (a notebook cell run twice defines the class anew); a warning says so when the two come from
    different modules.
    """
    full = PREFIX + name if name else scenario_name(cls)
    if full == PREFIX or any(c.isspace() for c in full):
        raise ValueError(f"algorithm name {full!r} must be non-empty and contain no spaces")
    defaults = getattr(cls, "params", {}) or {}
    if not isinstance(defaults, Mapping):
        raise TypeError(f"{cls.__name__}.params must be a mapping of parameter name to default number")
    for key, value in defaults.items():
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{cls.__name__}.params[{key!r}] = {value!r}: parameters are numbers with str names")
    if not callable(getattr(cls, "decide", None)):
        raise TypeError(f"{cls.__name__} has no decide(estimates, current) method")
    previous = _registry.get(full)
    if previous is not None and previous is not cls and previous.__module__ != cls.__module__:
        warnings.warn(f"{full}: {cls.__module__}.{cls.__qualname__} replaces "
                      f"{previous.__module__}.{previous.__qualname__}", stacklevel=3)
    _registry[full] = cls
    return full


def unregister_algorithm(name: str) -> None:
    """Forget a Python algorithm (`python:Name` or `Name`); KeyError when it is not registered."""
    full = name if name.startswith(PREFIX) else PREFIX + name
    if full not in _registry:
        raise KeyError(f"no Python algorithm {full!r} is registered")
    del _registry[full]


def algorithms() -> dict[str, dict[str, float]]:
    """Every algorithm a scenario can name right now (built-in and Python), with its parameter defaults."""
    out = {name: dict(defaults) for name, defaults in _dmm.builtin_algorithms().items()}
    for name, cls in sorted(_registry.items()):
        out[name] = {key: float(value) for key, value in (getattr(cls, "params", {}) or {}).items()}
    return out


def loader_classes() -> list:
    """The registered Python algorithms as the compiled loader takes them."""
    return [_dmm.AlgorithmClass(name, cls, {k: float(v) for k, v in (getattr(cls, "params", {}) or {}).items()})
            for name, cls in sorted(_registry.items())]
