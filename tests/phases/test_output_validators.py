"""The fast validator (jsonschema-rs) and the reference one (jsonschema) must agree on every answer.

OutputSchema trusts the fast one's "valid" and asks the reference one only for error messages, so a
disagreement would either accept an answer upstream rejects or reject one without naming why. Each
phase's valid fixture is mutated at every node in the ways models get answers wrong (a key missing,
null, the wrong type, an unknown enum value, an empty list, a bad URL) and both validators are asked.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from app.providers.registry import PROVIDER_NAMES
from tests.support import FIXTURES, catalog_for

CATALOG = catalog_for(known_providers=PROVIDER_NAMES)
MAX_DEPTH = 4
"""Deeper nodes repeat the shapes above them, and the reference validator costs ms per instance."""
REPLACEMENTS: tuple[Any, ...] = (None, 7, "", "not-an-option", "ftp://x", [], {})
REACHING: dict[str, dict[str, Any]] = {
    "kill-test": {"verdict": "KILL", "parkedForFuture": {"reason": "AI costs", "revisitEstimateMonths": 12}},
}
"""Overrides that take a fixture into the branches of a phase's conditional rules (contract.py)."""


def _paths(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield path
    if len(path) >= MAX_DEPTH:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:1]):  # the first item shows the shape of any list
            yield from _paths(value, (*path, index))


def _set(root: Any, path: tuple[str | int, ...], value: Any) -> Any:
    if not path:
        return value
    changed = copy.deepcopy(root)
    parent = changed
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return changed


def _delete(root: Any, path: tuple[str | int, ...]) -> Any:
    changed = copy.deepcopy(root)
    parent = changed
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return changed


def _variants(valid: dict[str, Any]) -> Iterator[Any]:
    yield valid
    for path in _paths(valid):
        for replacement in REPLACEMENTS:
            yield _set(valid, path, replacement)
        if path:
            yield _delete(valid, path)


@pytest.mark.parametrize("name", CATALOG.names())
def test_fast_and_reference_validators_agree(name: str) -> None:
    output = CATALOG.get(name).output
    reference = Draft202012Validator(output.contract)
    valid = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    starts = [valid] + ([{**valid, **REACHING[name]}] if name in REACHING else [])
    checked = rejected = 0
    for start in starts:
        assert reference.is_valid(start)
        for instance in _variants(start):
            expected = reference.is_valid(instance)
            assert output.is_valid(instance) is expected, (
                f"validators disagree on {json.dumps(instance)[:300]}"
            )
            checked += 1
            rejected += not expected
    # The mutations must exercise both answers, or the agreement shows nothing.
    assert checked > 50 and 0 < rejected < checked
