"""Turns a model's answer text into a schema-valid phase output, or the reasons it is not one."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from app.domain import Outcome, Success
from app.phases.output import OutputSchema
from app.synthesis.extract import candidates, strip_reasoning


@dataclass(frozen=True, slots=True)
class Parsed:
    """The best object found in an answer and its validation errors (empty when valid)."""

    value: dict[str, Any] | None
    errors: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.value is not None and not self.errors


def parse_output(text: str, schema: OutputSchema) -> Parsed:
    """The first JSON object in ``text`` that validates; else the closest one and its errors."""
    closest: Parsed | None = None
    for candidate in candidates(strip_reasoning(text)):
        if not isinstance(candidate.value, dict):
            continue
        value, errors = schema.check(candidate.value)
        if not errors:
            return Parsed(value)
        if closest is None or len(errors) < len(closest.errors):
            closest = Parsed(value, errors)
    if closest is not None:
        return closest
    excerpt = " ".join(text.split())[:120]
    return Parsed(None, [f"no JSON object found in the answer (it begins: {excerpt!r})"])


def annotate(outcome: Outcome, parsed: Parsed | None) -> Outcome:
    """The outcome with its answer's validation errors attached, so a rejection is never silent."""
    if isinstance(outcome, Success) and parsed is not None and not parsed.valid:
        return dataclasses.replace(outcome, output_errors=tuple(parsed.errors[:5]))
    return outcome
