"""Ballots: what the members of strategy ``ballot`` vote on, and the short answer they write.

One model writes the whole answer (the phase's single model); every member writes only a ballot,
the phase's decision fields as one small JSON object, and the ballots settle those fields
(app/synthesis/merge.py, ``settle_by_ballots``). On a CPU that decodes three streams no faster
than one (llama.cpp on two cores: 66 tokens/s together, 77 alone), three whole answers cost three
answers' time; a ballot is a dozen tokens, so the vote costs little more than the one answer
(BENCHMARKS.md). The vote is where an ensemble pays: the decision, by majority, from several
perspectives.

A decision field is the phase's decision rule (kill-test's ``verdict``) and every other top-level
field whose value is a choice or a figure: an enum, a boolean or a number. Pure: reads schemas.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from app.phases.config import DecisionRule
from app.phases.output import OutputSchema
from app.synthesis.validate import Parsed, parse_output

BALLOT_BASE_TOKENS = 24
"""The braces, a little whitespace, and slack for a model that spells a number out long."""
BALLOT_TOKENS_PER_FIELD = 16
"""A field's name and its value: camelCase names run 3 to 8 tokens, choices 1 to 4."""


class BallotForm:
    """One phase's ballot: the fields it votes on, the closed schema a model is sent (a grammar
    can then write nothing else), and the reading of what a model wrote."""

    def __init__(self, output: OutputSchema, rule: DecisionRule | None) -> None:
        self.fields = ballot_fields(output.wire_schema, rule)
        self.wire_schema = ballot_schema(output.wire_schema, self.fields)
        self.max_tokens = ballot_max_tokens(self.fields)
        # Read leniently: a model without a grammar that writes the whole answer still casts its
        # vote, as long as the ballot's fields are there and valid.
        self._check = OutputSchema(
            f"{output.phase} ballot", ballot_schema(output.schema, self.fields, closed=False)
        )

    def read(self, text: str) -> Parsed:
        """The ballot in ``text``: its fields alone when valid, else why it is not a ballot."""
        parsed = parse_output(text, self._check)
        if not parsed.valid or parsed.value is None:
            return parsed
        return Parsed({name: parsed.value[name] for name in self.fields if name in parsed.value})


_FORMS: weakref.WeakKeyDictionary[OutputSchema, dict[str | None, BallotForm]] = weakref.WeakKeyDictionary()


def ballot_form(output: OutputSchema, rule: DecisionRule | None) -> BallotForm:
    """The phase's ballot, built once per phase (and decision rule)."""
    forms = _FORMS.setdefault(output, {})
    key = rule.field if rule is not None else None
    if key not in forms:
        forms[key] = BallotForm(output, rule)
    return forms[key]


def ballot_fields(schema: Mapping[str, Any], rule: DecisionRule | None) -> tuple[str, ...]:
    """The top-level fields a ballot votes on, the decision rule's first; empty: nothing to vote on."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return ()
    chosen = [rule.field] if rule is not None and rule.field in properties else []
    chosen += [name for name, node in properties.items() if name not in chosen and _is_choice(node)]
    return tuple(chosen)


def ballot_schema(
    schema: Mapping[str, Any], fields: tuple[str, ...], *, closed: bool = True
) -> dict[str, Any]:
    """``schema`` cut down to ``fields``, every one required: what a ballot must be. ``closed``
    (what models are sent): no other key, so a grammar-constrained model can write nothing else."""
    properties = schema.get("properties", {})
    cut: dict[str, Any] = {
        "type": "object",
        "properties": {name: properties[name] for name in fields},
        "required": list(fields),
    }
    if closed:
        cut["additionalProperties"] = False
    return cut


def ballot_max_tokens(fields: tuple[str, ...]) -> int:
    """A ballot's token budget, from its field count: enough for the object, not for an essay."""
    return BALLOT_BASE_TOKENS + BALLOT_TOKENS_PER_FIELD * len(fields)


def ballot_instruction(fields: tuple[str, ...]) -> str:
    """The request's last section: write the ballot, not the whole answer."""
    names = ", ".join(fields)
    return (
        "## Ballot\nThis call is a ballot: another analyst writes the full answer. Decide only "
        f"{names}, from the task and the schema above, and answer with one JSON object holding "
        "exactly those fields and nothing else."
    )


def _is_choice(node: Any) -> bool:
    """An enum, a boolean or a number (nullable or not): a value answers vote on."""
    if not isinstance(node, Mapping):
        return False
    if isinstance(node.get("enum"), list):
        return True
    kind = node.get("type")
    kinds = [kind] if isinstance(kind, str) else list(kind) if isinstance(kind, list) else []
    kinds = [k for k in kinds if k != "null"]
    if kinds:
        return all(k in ("boolean", "number", "integer") for k in kinds)
    alternatives = [a for key in ("anyOf", "oneOf") for a in node.get(key) or []]
    real = [a for a in alternatives if not (isinstance(a, Mapping) and a.get("type") == "null")]
    return bool(real) and all(_is_choice(a) for a in real)
