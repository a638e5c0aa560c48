"""Turns a model's answer text into a schema-valid phase output, or the reasons it is not one.

Extraction picks the one value the answer meant (docs/json-extraction.md); validation
then judges that pick. Nothing else is tried: a draft or schema echo that happens to validate must
not stand in for the answer the model actually gave.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from app.domain import Outcome, Success
from app.phases.output import OutputSchema
from app.synthesis.extract import Failure, extract

ParseFailure = Failure | Literal["invalid"]
"""Why an answer gave no valid output: an extraction failure, or ``invalid`` against the schema."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """The object the answer meant and its validation errors (empty when valid)."""

    value: dict[str, Any] | None
    errors: list[str] = field(default_factory=list)
    failure: ParseFailure | None = None
    """Machine-readable reason when not valid: ``truncated`` tells a cut-off answer from an invalid one."""

    @property
    def valid(self) -> bool:
        return self.value is not None and not self.errors


def parse_output(text: str, schema: OutputSchema) -> Parsed:
    """The answer's one extracted value, checked against ``schema`` (nulls it forbids pruned)."""
    found = extract(text)
    if found.failure is not None:
        return Parsed(None, [found.message], found.failure)
    value, errors = schema.check(found.value)
    if not isinstance(value, dict):  # an array pick is reported, never unwrapped or skipped
        return Parsed(None, ["the answer's JSON is an array, not an object", *errors], "invalid")
    return Parsed(value, errors, "invalid" if errors else None)


def annotate(outcome: Outcome, parsed: Parsed | None) -> Outcome:
    """The outcome with its answer's validation errors attached, so a rejection is never silent."""
    if isinstance(outcome, Success) and parsed is not None and not parsed.valid:
        return dataclasses.replace(outcome, output_errors=tuple(parsed.errors[:5]))
    return outcome
