"""The parallel answers, each parsed against the phase schema once and carried with its parse."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.domain import Success
from app.phases.output import OutputSchema
from app.synthesis.validate import Parsed, parse_output
from app.synthesis.votes import Tally


@dataclass(frozen=True, slots=True)
class Answer:
    """One model's answer and what it parsed to (valid or with errors)."""

    success: Success
    parsed: Parsed

    @property
    def alias(self) -> str:
        return self.success.model.alias

    @property
    def text(self) -> str:
        return self.success.completion.text

    def for_reading(self) -> str:
        """The answer as another model reads it: its JSON re-serialised, else its cleaned text."""
        return answer_text(self.parsed.value, self.text)


def parse_answers(schema: OutputSchema, successes: Sequence[Success]) -> list[Answer]:
    """Each answer parsed against ``schema``: the only parse of a parallel answer."""
    return [Answer(s, parse_output(s.completion.text, schema)) for s in successes]


def by_alias(answers: Sequence[Answer]) -> dict[str, Parsed]:
    """Model alias -> its parsed answer."""
    return {a.alias: a.parsed for a in answers}


def best_parallel_answer(
    answers: Mapping[str, Parsed], votes: Tally | None
) -> tuple[str, dict[str, object]] | None:
    """The fallback when synthesis fails: a schema-valid parallel answer, the majority's if voted."""
    valid = {alias: p.value for alias, p in answers.items() if p.valid and p.value}
    if not valid:
        return None
    leader = votes.leader if votes else None

    def rank(item: tuple[str, dict[str, object]]) -> tuple[bool, int]:
        alias, value = item
        agrees = leader is not None and votes is not None and votes.choices.get(alias) == leader
        return agrees, len(json.dumps(value))  # richer answers carry more for later phases

    return max(valid.items(), key=rank)


def answer_text(value: object | None, fallback: str) -> str:
    """The JSON of a parsed answer, compact; the cleaned text when it did not parse."""
    if value is None:
        return fallback
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
