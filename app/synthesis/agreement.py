"""How far the parallel answers agreed with each other and with the synthesized output.

Only categorical fields (enums and booleans) are compared: free text never matches exactly, so
counting it would make every model look like a dissenter. A planner reads this report before
trusting a GO, so it has to show both where the models split and how the synthesizer settled it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Path = tuple[str, ...]
"""A field's location as keys, so property names containing dots stay unambiguous internally."""


@dataclass(frozen=True, slots=True)
class FieldAgreement:
    """What the answers chose for one categorical field, and what the final output kept."""

    path: str
    distribution: dict[str, int]
    """Rendered value -> how many answers chose it, most common first (ties in answer order)."""
    final: str | None
    unanimous: bool
    """Every answer that set the field chose the same value; ``False`` when no answer set it."""
    resolved: bool
    """The answers disagreed and the final output settled on a value."""


@dataclass(frozen=True, slots=True)
class ModelAgreement:
    """How closely one model's answer matches the final output on the categorical fields."""

    model: str
    compared: int
    """Fields that both this answer and the final output set."""
    agreed: int
    agreement: float | None
    """``agreed / compared`` to 3 places; ``None`` when nothing could be compared."""
    disagreements: list[str]
    usable: bool
    """``False`` when the model's reply held no usable JSON; such a model is counted nowhere."""


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A field on which the answers split, who chose what, and which way the synthesizer went."""

    path: str
    values: dict[str, list[str]]
    """Rendered value -> the aliases that chose it, in the same order as the field's distribution."""
    final: str | None
    followed_majority: bool | None
    """Whether the final value is the single most common one; ``None`` when the lead is tied."""


@dataclass(frozen=True, slots=True)
class AgreementReport:
    fields: list[FieldAgreement]
    models: list[ModelAgreement]
    disagreements: list[Disagreement]
    overall: float | None
    """Mean agreement over the models that had anything to compare; ``None`` when none did."""


def categorical_fields(schema: Mapping[str, Any]) -> list[str]:
    """Dotted paths of the enum and boolean fields reachable through object properties, in schema order.

    Array items are skipped: a verdict per list element has no fixed position to line up across
    answers of different lengths.
    """
    return [".".join(path) for path in _categorical_paths(schema)]


def build_report(
    schema: Mapping[str, Any],
    answers: Mapping[str, Mapping[str, Any] | None],
    final: Mapping[str, Any],
) -> AgreementReport:
    """Compare each answer (alias -> parsed object, ``None`` if unusable) with ``final`` on ``schema``."""
    paths = _categorical_paths(schema)
    chosen = {alias: _values(answer, paths) for alias, answer in answers.items()}
    kept = _values(final, paths)

    fields: list[FieldAgreement] = []
    disagreements: list[Disagreement] = []
    for path in paths:
        voters = {alias: values[path] for alias, values in chosen.items() if path in values}
        final_value = kept.get(path)
        if not voters and final_value is None:
            continue  # nobody has an opinion; listing it would only pad the report
        # most_common keeps first-encountered order among equal counts, so ties follow answer order.
        distribution = dict(Counter(voters.values()).most_common())
        split = len(distribution) > 1
        dotted = ".".join(path)
        fields.append(
            FieldAgreement(
                path=dotted,
                distribution=distribution,
                final=final_value,
                unanimous=len(distribution) == 1,
                resolved=split and final_value is not None,
            )
        )
        if split:
            disagreements.append(
                Disagreement(
                    path=dotted,
                    values={
                        value: [alias for alias, v in voters.items() if v == value] for value in distribution
                    },
                    final=final_value,
                    followed_majority=_followed_majority(distribution, final_value),
                )
            )

    models = [
        _model_agreement(alias, answers[alias] is not None, chosen[alias], kept, paths) for alias in answers
    ]
    # Averaged from the exact ratios, so rounding each model first does not skew the mean.
    ratios = [m.agreed / m.compared for m in models if m.compared]
    overall = round(sum(ratios) / len(ratios), 3) if ratios else None
    return AgreementReport(fields=fields, models=models, disagreements=disagreements, overall=overall)


def _model_agreement(
    alias: str, usable: bool, values: Mapping[Path, str], kept: Mapping[Path, str], paths: list[Path]
) -> ModelAgreement:
    # A field only one side set is not a disagreement: the final may legitimately drop or add it.
    shared = [path for path in paths if path in values and path in kept]
    differing = [".".join(path) for path in shared if values[path] != kept[path]]
    agreed = len(shared) - len(differing)
    return ModelAgreement(
        model=alias,
        compared=len(shared),
        agreed=agreed,
        agreement=round(agreed / len(shared), 3) if shared else None,
        disagreements=differing,
        usable=usable,
    )


def _followed_majority(distribution: Mapping[str, int], final: str | None) -> bool | None:
    top = max(distribution.values())
    leaders = [value for value, count in distribution.items() if count == top]
    if len(leaders) > 1:
        return None
    return final == leaders[0]


def _values(answer: Mapping[str, Any] | None, paths: list[Path]) -> dict[Path, str]:
    """The rendered, non-null values ``answer`` sets at ``paths``."""
    found: dict[Path, str] = {}
    for path in paths:
        value = _lookup(answer, path)
        if value is not None:
            found[path] = _render(value)
    return found


def _lookup(answer: Mapping[str, Any] | None, path: Path) -> Any:
    # Answers are not guaranteed to be schema-valid (a string where an object belongs, say), so any
    # non-object on the way down simply means the field was not set.
    node: Any = answer
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _render(value: Any) -> str:
    if isinstance(value, bool):  # before numbers: bool is an int subclass, and JSON spells it lowercase
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    # Not valid for an enum or boolean, but a model did answer something; give it a stable spelling.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)


_PATHS: dict[int, tuple[Mapping[str, Any], list[Path]]] = {}
"""Schema identity -> its categorical paths. A phase's schema is built once and never changes, and
walking it cost more CPU per request than comparing the answers (BENCHMARKS.md's profile)."""


def _categorical_paths(schema: Mapping[str, Any]) -> list[Path]:
    cached = _PATHS.get(id(schema))
    if cached is not None and cached[0] is schema:  # holding the schema keeps its id from reuse
        return cached[1]
    # Alternatives can repeat a property (two object shapes both carrying ``isAgentic``); the first
    # occurrence fixes its position.
    paths = list(dict.fromkeys(_walk(schema, ())))
    if len(_PATHS) < 1024:  # bounded: only odd callers build schemas per call
        _PATHS[id(schema)] = (schema, paths)
    return paths


def _walk(node: Mapping[str, Any], prefix: Path) -> Iterator[Path]:
    properties = node.get("properties")
    if _may_be_object(node) and isinstance(properties, Mapping):
        for name, sub in properties.items():
            if not isinstance(sub, Mapping):
                continue
            path = (*prefix, name)
            if _is_categorical(sub):
                yield path
            else:
                yield from _walk(sub, path)
    for keyword in ("anyOf", "oneOf"):
        for alternative in _alternatives(node, keyword):
            yield from _walk(alternative, prefix)


def _is_categorical(node: Mapping[str, Any]) -> bool:
    enum = node.get("enum")
    if isinstance(enum, list):
        # An enum of only null carries no decision.
        return any(option is not None for option in enum)
    kind = node.get("type")
    if kind == "boolean" or (
        isinstance(kind, list) and "boolean" in kind and all(k in ("boolean", "null") for k in kind)
    ):
        return True
    # A nullable enum or boolean is sometimes spelled as a union with {"type": "null"}.
    alternatives = [
        alt
        for keyword in ("anyOf", "oneOf")
        for alt in _alternatives(node, keyword)
        if alt.get("type") != "null"
    ]
    return bool(alternatives) and all(_is_categorical(alt) for alt in alternatives)


def _may_be_object(node: Mapping[str, Any]) -> bool:
    kind = node.get("type")
    return kind is None or kind == "object" or (isinstance(kind, list) and "object" in kind)


def _alternatives(node: Mapping[str, Any], keyword: str) -> list[Mapping[str, Any]]:
    options = node.get(keyword)
    if not isinstance(options, list):
        return []
    return [option for option in options if isinstance(option, Mapping)]
