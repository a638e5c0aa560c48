"""A phase's output contract: the published JSON Schema, its validator and a null-pruning pass.

The schemas are the upstream planning machine's output fields as JSON Schema, checked against
upstream's own validator (shared/reference/phase-schemas.json): any instance valid here is accepted
upstream. The service only ever tightens them (``always_emit``, and the workflow's conditional
rules in app/phases/contract.py), so that stays true.

Two validators, one schema: jsonschema-rs (compiled, in Rust) answers the hot question "is this valid?"
for every answer of every request; the reference jsonschema validator, many times slower, runs only
when an answer is invalid, to name each error and its path for the repair prompt and the caller.
Valid answers, the usual case, never reach it. tests/phases/test_output_validators.py checks that
the two agree.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

_MAX_ERRORS = 20


def _forbid_null(subschema: dict[str, Any]) -> dict[str, Any]:
    """The same subschema without null among its accepted values."""
    result = dict(subschema)
    types = result.get("type")
    if isinstance(types, list) and "null" in types:
        result["type"] = [t for t in types if t != "null"]
    if isinstance(result.get("enum"), list):
        result["enum"] = [v for v in result["enum"] if v is not None]
    if isinstance(result.get("anyOf"), list):
        result["anyOf"] = [s for s in result["anyOf"] if s != {"type": "null"}]
    return result


def tighten(schema: dict[str, Any], always_emit: tuple[str, ...]) -> dict[str, Any]:
    """Require ``always_emit`` keys and forbid null for them; leaves the input untouched."""
    if not always_emit:
        return schema
    tightened = copy.deepcopy(schema)
    properties = tightened.setdefault("properties", {})
    for key in always_emit:
        properties[key] = _forbid_null(properties.get(key, {}))
    required = list(tightened.get("required", []))
    tightened["required"] = required + [k for k in always_emit if k not in required]
    return tightened


def with_rules(schema: dict[str, Any], rules: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """``schema`` that must also satisfy every one of ``rules``; leaves the input untouched."""
    if not rules:
        return schema
    return {**schema, "allOf": [*schema.get("allOf", []), *copy.deepcopy(list(rules))]}


def _path(error: ValidationError) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path]
    return "$" + "".join(parts)


class OutputSchema:
    """Validates one phase's output; compiled once at start-up."""

    def __init__(
        self,
        phase: str,
        schema: dict[str, Any],
        always_emit: tuple[str, ...] = (),
        rules: tuple[dict[str, Any], ...] = (),
    ):
        Draft202012Validator.check_schema(schema)
        self.phase = phase
        self.schema = tighten(schema, always_emit)
        """What models are asked for (structured output) and shown: upstream's schema, tightened."""
        self.contract = with_rules(self.schema, rules)
        """What an output must satisfy, and what GET /phases/{name} publishes: ``schema`` and the
        workflow's conditional rules. Kept out of ``schema`` because structured-output decoders
        reject if/then (llama.cpp's llguidance: "Unimplemented keys")."""
        Draft202012Validator.check_schema(self.contract)
        self._validator = Draft202012Validator(self.contract)
        # Formats are annotations in 2020-12 and the reference validator does not check them: the
        # fast one must not either, or the two would disagree.
        self._fast = jsonschema_rs.Draft202012Validator(self.contract, validate_formats=False)
        for key in always_emit:
            if key not in schema.get("properties", {}):
                raise ValueError(f"always_emit names {key!r}, which the schema does not define")
        self.wire_schema: dict[str, Any] = wire_safe(self.schema)
        """What providers are sent (``response_format``, ``output_config``): standard keywords only."""
        # What models are shown: the same contract, without upstream bookkeeping keys.
        self.prompt_text = json.dumps(self.wire_schema, separators=(",", ":"))
        self.bounded_wire_schema: dict[str, Any] = bounded(self.wire_schema)
        """For models whose decoding the schema constrains (llama.cpp's grammar) and that wander:
        no keys beyond the schema's, no list longer than ``BOUNDED_MAX_ITEMS``."""

    def wire_schema_for(self, *, bounded_output: bool) -> dict[str, Any]:
        """The schema a model is sent: bounded for the models that need it (``ModelSpec``)."""
        return self.bounded_wire_schema if bounded_output else self.wire_schema

    def errors(self, instance: Any) -> list[str]:
        """Every validation error as ``$.path: message``, most relevant first, capped."""
        if self._fast.is_valid(instance):
            return []
        found = sorted(self._validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        lines = [f"{_path(e)}: {_short(e.message)}" for e in found[:_MAX_ERRORS]]
        if len(found) > _MAX_ERRORS:
            lines.append(f"... and {len(found) - _MAX_ERRORS} more")
        return lines

    def check(self, instance: Any) -> tuple[Any, list[str]]:
        """``instance`` with the nulls the schema forbids pruned, and its remaining errors.

        A valid instance, the usual case, costs one compiled check: no copy, no pruning pass.
        """
        if self._fast.is_valid(instance):
            return instance, []
        pruned = self.prune_nulls(instance)
        return pruned, self.errors(pruned)

    def is_valid(self, instance: Any) -> bool:
        """Whether ``instance`` satisfies the published schema."""
        return bool(self._fast.is_valid(instance))

    def prune_nulls(self, instance: Any) -> Any:
        """A copy without the null-valued keys the schema forbids.

        Models often write ``"block": null`` for an optional block they skipped; upstream rejects
        that but accepts the key's absence, so dropping it is a lossless fix, not a guess.
        """
        if not isinstance(instance, dict):
            return instance
        pruned = copy.deepcopy(instance)
        for _ in range(10):  # each pass removes the nulls it can see; nesting needs a few.
            removed = False
            for error in self._validator.iter_errors(pruned):
                if error.instance is None and _delete_at(pruned, list(error.absolute_path)):
                    removed = True
            if not removed:
                break
        return pruned


def _delete_at(root: Any, path: list[str | int]) -> bool:
    if not path or not isinstance(path[-1], str):
        return False
    parent = root
    for part in path[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(parent, dict) and parent.get(path[-1], 0) is None:
        del parent[path[-1]]
        return True
    return False


def _short(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."


# JSON Schema 2020-12's keywords (core, applicator, validation, unevaluated, format, content and
# meta-data vocabularies), split by what their value holds.
_SCHEMA_VALUED = frozenset(
    {"items", "contains", "additionalProperties", "propertyNames", "not", "if", "then", "else"}
    | {"unevaluatedItems", "unevaluatedProperties", "contentSchema"}
)
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_PLAIN = frozenset(
    {"$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$comment", "type", "enum", "const"}
    | {"multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"}
    | {"maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems"}
    | {"maxContains", "minContains", "maxProperties", "minProperties", "required"}
    | {"dependentRequired", "format", "contentEncoding", "contentMediaType"}
    | {"title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples"}
)
"""Kept as they are: their values are data (``enum``, ``default``), not schemas to walk. ``$schema``,
``$id`` and ``$vocabulary`` are left out: they name documents a provider would not fetch."""


def wire_safe(schema: Any) -> Any:
    """``schema`` with standard JSON Schema keywords only, for a provider's structured output.

    The phase schemas annotate the contract for people (``x-upstream-*``, ``x-note``); providers'
    schema checkers reject or choke on keywords they do not know. Walks by keyword, so a property
    *named* like an annotation, or an ``x-`` key inside a ``default`` value, stays.
    """
    if not isinstance(schema, dict):
        return schema  # a boolean schema
    kept: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _PLAIN:
            kept[key] = value
        elif key in _SCHEMA_VALUED:
            kept[key] = [wire_safe(v) for v in value] if isinstance(value, list) else wire_safe(value)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            kept[key] = [wire_safe(v) for v in value]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            kept[key] = {name: wire_safe(v) for name, v in value.items()}
    return kept


BOUNDED_MAX_ITEMS = 5
"""Enough for every list a phase asks for (the upstream prompts ask for 3 to 5 entries)."""


def bounded(schema: Any) -> Any:
    """``schema`` tightened for grammar-constrained decoding: every object closed to its declared
    properties, every list capped at ``BOUNDED_MAX_ITEMS`` (never below its ``minItems``).

    A small model decoding under a grammar cannot stop wandering by itself: Gemma 3 270M echoed the
    schema's own keywords as keys and repeated list entries until its token budget ran out. Any value
    valid here is valid against ``schema``: this only removes choices.
    """
    if not isinstance(schema, dict):
        return schema
    tight: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_LISTS and isinstance(value, list):
            tight[key] = [bounded(v) for v in value]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            tight[key] = {name: bounded(v) for name, v in value.items()}
        elif key in _SCHEMA_VALUED:
            tight[key] = [bounded(v) for v in value] if isinstance(value, list) else bounded(value)
        else:
            tight[key] = value
    if isinstance(schema.get("properties"), dict) and "additionalProperties" not in schema:
        tight["additionalProperties"] = False
    types = schema.get("type")
    if "items" in schema or types == "array" or (isinstance(types, list) and "array" in types):
        floor = schema.get("minItems", 0)
        tight["maxItems"] = max(floor, min(schema.get("maxItems", BOUNDED_MAX_ITEMS), BOUNDED_MAX_ITEMS))
    return tight
