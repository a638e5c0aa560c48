"""The consensus merge: the members' schema-valid answers combined field by field, with no model call.

Majority for enums and booleans, the median for numbers, a de-duplicated union for lists, and the
most central answer (the one the others agree with most, by the agreement report) for free text and
anything that cannot be combined. A 270M judge re-decoding every answer added time and no accuracy
(EVAL.md); this costs microseconds. Pure: reads answers and the schema, calls nothing.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.phases.output import OutputSchema
from app.synthesis.agreement import build_report

Value = Any
Node = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Merged:
    """The merged output, the answer it leans on, and how each merged field was settled."""

    output: dict[str, Any]
    central: str
    """The alias of the most central answer: the source of free text and the tie-breaker."""
    fields: dict[str, str] = field(default_factory=dict)
    """Dotted path -> how it was settled (``majority 2/3``, ``median of 3``, ``union 5 of 9``)."""
    fell_back: bool = False
    """The field-by-field merge did not validate; the central answer is returned whole."""
    answers: int = 1
    """How many schema-valid answers were merged (ballots included)."""
    central_is: str = "the most central answer"
    """Why ``central`` is the base: the most central answer (merge), or the writer (ballot)."""

    def note(self) -> str:
        """One line for the record."""
        if self.fell_back:
            return (
                f"merge: the merged output did not validate; kept {self.central}'s answer ({self.central_is})"
            )
        return f"merge: {len(self.fields)} fields combined; the rest from {self.central} ({self.central_is})"


def merge_answers(
    schema: OutputSchema,
    answers: Mapping[str, Mapping[str, Any] | None],
    *,
    settled: Mapping[str, Any] | None = None,
) -> Merged | None:
    """The field-by-field merge of the schema-valid ``answers`` (alias -> parsed JSON), or ``None``
    when none is valid; ``settled`` top-level fields are set as given (a decision rule's vote).
    The result always validates against ``schema``."""
    valid = {alias: dict(v) for alias, v in answers.items() if v is not None and schema.is_valid(v)}
    if not valid:
        return None
    order = rank_by_centrality(schema.schema, valid)
    central = order[0]
    if len(valid) == 1:
        return Merged(valid[central], central)
    ranked = [valid[alias] for alias in order]
    how: dict[str, str] = {}
    merged = _merge_object(ranked, schema.schema, "", how)
    for key, value in (settled or {}).items():
        if merged.get(key) != value:
            how[key] = "the decision rule's weighted vote"
        merged[key] = value
    if schema.is_valid(merged):
        return Merged(merged, central, how, answers=len(valid))
    repaired = _revert_until_valid(schema, merged, valid[central], how)
    if repaired is not None:
        return Merged(repaired, central, how, answers=len(valid))
    return Merged(valid[central], central, fell_back=True, answers=len(valid))


def settle_by_ballots(
    schema: OutputSchema,
    writer: str,
    answer: Mapping[str, Any],
    ballots: Mapping[str, Mapping[str, Any] | None],
    fields: Sequence[str],
    *,
    settled: Mapping[str, Any] | None = None,
) -> Merged:
    """The ``writer``'s schema-valid ``answer`` with each of ``fields`` set by the vote of the writer
    and the valid ``ballots`` (strategy ``ballot``): majority for choices and booleans (a tie goes to
    the writer's), the median for numbers; ``settled`` fields (the decision rule's weighted vote) as
    given. The result validates against ``schema``: a combination its rules forbid reverts voted
    fields to the writer's, one at a time."""
    valid = {alias: ballot for alias, ballot in ballots.items() if ballot is not None}
    properties = schema.schema.get("properties", {})
    merged, how = dict(answer), {}
    for name in fields:
        if settled and name in settled:
            if answer.get(name) != settled[name]:
                how[name] = "the decision rule's weighted vote"
            merged[name] = settled[name]
            continue
        values = [v for v in (answer.get(name), *(b.get(name) for b in valid.values())) if v is not None]
        if values:
            merged[name] = _merge_value(values, properties.get(name, {}), name, how)
    role, count = "the writer; the others cast ballots", 1 + len(valid)
    if schema.is_valid(merged):
        return Merged(merged, writer, how, answers=count, central_is=role)
    repaired = _revert_until_valid(schema, merged, dict(answer), how)
    if repaired is not None:
        return Merged(repaired, writer, how, answers=count, central_is=role)
    return Merged(dict(answer), writer, fell_back=True, answers=count, central_is=role)


def rank_by_centrality(schema: Node, answers: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Aliases, most central first: by how far the others agree with each answer on the categorical
    fields (the agreement report's overall), then by the words its text shares with theirs, then
    the richer answer, then answer order."""
    words = {alias: _words(answer) for alias, answer in answers.items()}

    def score(item: tuple[int, str]) -> tuple[float, float, int, int]:
        index, alias = item
        others = {a: v for a, v in answers.items() if a != alias}
        overall = build_report(schema, others, answers[alias]).overall if others else None
        shared = sum(_overlap(words[alias], words[a]) for a in others) / max(len(others), 1)
        return (overall or 0.0, round(shared, 6), len(json.dumps(answers[alias], default=str)), -index)

    return [alias for _, alias in sorted(enumerate(answers), key=score, reverse=True)]


def _words(value: Value) -> set[str]:
    """Every word of the answer's text, normalised: what free-text agreement is measured on."""
    if isinstance(value, str):
        return set(_normal(value).split())
    if isinstance(value, Mapping):
        return set().union(*(_words(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_words(v) for v in value)) if value else set()
    return set()


def _overlap(one: set[str], other: set[str]) -> float:
    return len(one & other) / len(one | other) if one or other else 0.0


def _merge_object(
    ranked: Sequence[Mapping[str, Any]], node: Node, path: str, how: dict[str, str]
) -> dict[str, Any]:
    """Each key the central answer sets, or most answers set, merged from every answer that sets it."""
    keys = list(ranked[0])
    for answer in ranked[1:]:
        keys += [k for k in answer if k not in keys and _present(ranked, k) * 2 > len(ranked)]
    properties = _object_node(node).get("properties", {})
    merged: dict[str, Any] = {}
    for key in keys:
        values = [a[key] for a in ranked if key in a and a[key] is not None]
        sub = properties.get(key, {}) if isinstance(properties, Mapping) else {}
        dotted = f"{path}.{key}" if path else key
        merged[key] = _merge_value(values, sub, dotted, how) if values else ranked[0].get(key)
    return merged


def _merge_value(values: list[Value], node: Node, path: str, how: dict[str, str]) -> Value:
    """One field's values (most central first) merged by their kind: those of the central answer's
    kind (a field may be text in one answer and an object in another)."""
    values = [v for v in values if _kind(v) == _kind(values[0])]
    if len(values) == 1:
        return values[0]
    kind = _kind(values[0])
    if kind == "boolean" or (kind == "string" and _is_enum(node)):
        return _majority(values, path, how)
    if kind == "number":
        return _median(values, node, path, how)
    if kind == "array":
        return _union(values, node, path, how)
    if kind == "object":
        return _merge_object(values, node, path, how)
    return values[0]  # free text: the central answer's


def _kind(value: Value) -> str:
    if isinstance(value, bool):  # before numbers: bool is an int subclass
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "other"


def _majority(values: list[Value], path: str, how: dict[str, str]) -> Value:
    counts = Counter(json.dumps(v) for v in values)
    top = max(counts.values())
    # Ties go to the most central answer's choice: values are in centrality order.
    winner = next(v for v in values if counts[json.dumps(v)] == top)
    if len(counts) > 1:
        tied = sum(1 for n in counts.values() if n == top) > 1
        how[path] = (
            f"tie {top}/{len(values)}, the most central's" if tied else f"majority {top}/{len(values)}"
        )
    return winner


def _median(values: list[Value], node: Node, path: str, how: dict[str, str]) -> Value:
    integral = all(isinstance(v, int) for v in values) or "integer" in _types(node)
    middle: float = statistics.median_low(values) if integral else statistics.median(values)
    low, high = _bound(node, "minimum"), _bound(node, "maximum")
    middle = min(max(middle, low if low is not None else middle), high if high is not None else middle)
    if len(set(values)) > 1:
        how[path] = f"median of {len(values)}"
    return int(middle) if integral else middle


def _union(values: list[list[Value]], node: Node, path: str, how: dict[str, str]) -> list[Value]:
    """Every distinct item once, the most supported first (then in centrality order), capped."""
    support: Counter[str] = Counter()
    first: dict[str, Value] = {}
    for items in values:
        seen = {_normal(item) for item in items}
        support.update(seen)
        for item in items:
            first.setdefault(_normal(item), item)
    order = sorted(first, key=lambda k: -support[k])  # stable: ties keep centrality order
    cap = _array_node(node).get("maxItems")
    kept = [first[k] for k in order][: cap if isinstance(cap, int) else None]
    if len(first) > max(len(v) for v in values) or len(kept) < len(first):
        how[path] = f"union {len(kept)} of {sum(len(v) for v in values)}"
    return kept


def _revert_until_valid(
    schema: OutputSchema, merged: dict[str, Any], central: dict[str, Any], how: dict[str, str]
) -> dict[str, Any] | None:
    """The merge with its top-level fields put back to the central answer's, one at a time, until
    it validates (a combination the schema's rules forbid); ``None`` when even that fails."""
    candidate = dict(merged)
    for key in list(candidate):
        if candidate.get(key) == central.get(key) or how.get(key) == "the decision rule's weighted vote":
            continue
        if key in central:
            candidate[key] = central[key]
        else:
            del candidate[key]
        for path in [p for p in how if p == key or p.startswith(f"{key}.")]:
            del how[path]
        if schema.is_valid(candidate):
            return candidate
    return None


def _normal(item: Value) -> str:
    """The spelling two items share when they say the same thing: case, spaces and punctuation aside."""
    text = item if isinstance(item, str) else json.dumps(item, sort_keys=True, default=str)
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def _present(answers: Sequence[Mapping[str, Any]], key: str) -> int:
    return sum(1 for a in answers if a.get(key) is not None)


def _types(node: Node) -> list[str]:
    kind = node.get("type")
    types = [kind] if isinstance(kind, str) else list(kind) if isinstance(kind, list) else []
    for keyword in ("anyOf", "oneOf"):
        for alternative in node.get(keyword) or []:
            if isinstance(alternative, Mapping):
                types += _types(alternative)
    return types


def _is_enum(node: Node) -> bool:
    if isinstance(node.get("enum"), list):
        return True
    alternatives = [a for k in ("anyOf", "oneOf") for a in node.get(k) or [] if isinstance(a, Mapping)]
    return any(isinstance(a.get("enum"), list) for a in alternatives)


def _object_node(node: Node) -> Node:
    """The part of ``node`` that describes an object (itself, or its object alternative)."""
    return _alternative_with(node, "properties")


def _array_node(node: Node) -> Node:
    return _alternative_with(node, "items")


def _alternative_with(node: Node, keyword: str) -> Node:
    if keyword in node:
        return node
    for key in ("anyOf", "oneOf"):
        for alternative in node.get(key) or []:
            if isinstance(alternative, Mapping) and keyword in alternative:
                return alternative
    return {}


def _bound(node: Node, keyword: str) -> float | None:
    value = node.get(keyword)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    for key in ("anyOf", "oneOf"):
        for alternative in node.get(key) or []:
            if isinstance(alternative, Mapping) and (found := _bound(alternative, keyword)) is not None:
                return found
    return None
