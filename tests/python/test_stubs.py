"""The type stubs of the compiled module declare exactly what it has, and help() on the main classes says how to
use them."""

from __future__ import annotations

import ast
import inspect
import os
import pydoc

import dmm
from dmm import _dmm

STUBS = os.path.join(os.path.dirname(_dmm.__file__), "_dmm.pyi")


def declared() -> dict[str, set[str]]:
    with open(STUBS, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    names: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef) and n.name != "__init__"}
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = set()
    return names


def public(obj) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def test_stubs_declare_every_name_of_the_module():
    stubs = declared()
    assert set(stubs) == public(_dmm)
    for name, members in stubs.items():
        obj = getattr(_dmm, name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            assert members == public(obj), name


def test_help_explains_the_main_classes():
    for obj, words in [(dmm.Scenario, ["load_scenario", "run(", "with_overrides", "ScenarioError"]),
                       (dmm.PolicyAlgorithm, ["decide(", "python:", "params", "AlgorithmError"]),
                       (dmm.Policy, ["reorder", "replace"]),
                       (dmm.Results, ["sessions", "metrics", "policies", "events", "summary"]),
                       (dmm.sweep, ["processes", "seed", "results"]),
                       (dmm, ["load_scenario", "PolicyAlgorithm", "sweep"])]:
        text = pydoc.render_doc(obj, renderer=pydoc.plaintext)
        for word in words:
            assert word in text, f"help({getattr(obj, '__name__', obj)}) does not mention {word}"
