"""The one JSON value a model's reply meant, chosen by docs/json-extraction.md.

The policy's rules, in its order: ignore byte-order marks (CRLF is whitespace); decode a reply whose
JSON syntax arrived HTML-escaped; drop reasoning (``app.text.reasoning``); collect the complete
top-level objects and arrays (nested values are not candidates; only the repairs in
``lenient_json``; a double-encoded reply counts as the value it encodes); fail when the text ends
inside an unclosed object or array, whatever came before it, because a closed-up prefix would pass
validation with fields silently missing; then choose: fenced candidates over the rest, objects over
arrays, and the last candidate at least half as long (compact) as the longest, which beats schema
echoes and superseded drafts before the answer and short fragments quoted after it.

Extraction does not judge content: a JSON refusal is returned like any object and schema
validation (``app.synthesis.validate``) judges the pick.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from app.synthesis.lenient_json import (
    Budget,
    Exhausted,
    Invalid,
    Truncated,
    read_lenient,
    read_strict,
    read_string,
)
from app.text.reasoning import split_reasoning

Failure = Literal["truncated", "no_json", "reasoning_only", "unfinished_reasoning"]

_ESCAPED_JSON = re.compile(r"[{\[]\s*&(?:quot|#34|#x22);", re.IGNORECASE)
_OPENER = re.compile(r"""[{\[]|"(?=\s*[{\[])""")
_ENCODED_OPENING = re.compile(r'"\s*(?:\{\s*(?:\\"|\})|\[\s*(?:\\"|[\[{\]\d-]))')
"""How a double-encoded object or array begins: ``"{\"``, ``"{}``, ``"[\"``, ``"[{``, ``"[1``…"""
_MAX_FAILED_OPENERS = 500
"""Openers that start no value (``{verdict}``, ``[1]`` citations are fine); past this, stop looking."""

_MESSAGES: dict[Failure, str] = {
    "truncated": "the answer was cut off inside its JSON (truncated): not repaired",
    "no_json": "no JSON object or array found in the answer",
    "reasoning_only": "the answer held only reasoning and no JSON after it",
    "unfinished_reasoning": "the answer's reasoning never closed (cut off while thinking): no answer",
}


@dataclass(frozen=True, slots=True)
class Extraction:
    """The value the reply meant (an object or array), or why there is none."""

    value: dict[str, Any] | list[Any] | None
    failure: Failure | None = None
    answer: str = ""
    """The reply's text without reasoning, as the rules saw it (for error messages)."""

    @property
    def message(self) -> str:
        """A sentence for callers saying why nothing was extracted ("" when something was)."""
        if self.failure is None:
            return ""
        text = _MESSAGES[self.failure]
        if self.failure == "no_json" and self.answer:
            text += f" (it begins: {' '.join(self.answer.split())[:120]!r})"
        return text


@dataclass(frozen=True, slots=True)
class _Candidate:
    value: Any
    start: int
    end: int


def extract(text: str) -> Extraction:
    """The JSON value ``text`` meant, or a failure with its reason (see the module doc)."""
    if "\ufeff" in text:
        text = text.replace("\ufeff", "")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if "&" in text and _ESCAPED_JSON.search(text):
        text = html.unescape(text)
    reasoned = split_reasoning(text)
    answer = reasoned.answer
    whole = _whole(answer)
    if whole is not None:  # the usual reply: exactly one value, nothing around it
        return Extraction(whole, answer=answer)
    try:
        found = _candidates(answer)
    except Truncated:
        return Extraction(None, "truncated", answer)
    picked = _choose(found, _fenced_regions(answer, found))
    if picked is not None:
        return Extraction(picked, answer=answer)
    if reasoned.unfinished:
        return Extraction(None, "unfinished_reasoning", answer)
    if not answer and reasoned.reasoning is not None:
        return Extraction(None, "reasoning_only", answer)
    return Extraction(None, "no_json", answer)


def _whole(answer: str) -> dict[str, Any] | list[Any] | None:
    """The value when the answer is exactly one strict JSON object or array."""
    if not answer or answer[0] not in "{[" or answer[-1] not in "}]":
        return None
    read = read_strict(answer, 0)
    if read is None or read[1] != len(answer):
        return None
    return read[0]  # type: ignore[no-any-return]  # it started at { or [


def _candidates(text: str) -> list[_Candidate]:
    """Every complete top-level value in ``text``; raises Truncated when the text ends inside one."""
    found: list[_Candidate] = []
    budget = Budget(len(text) + 10_000)  # a full lenient read of the text costs well under this
    position, failures = 0, 0
    while failures < _MAX_FAILED_OPENERS:
        opener = _OPENER.search(text, position)
        if opener is None:
            break
        start = opener.start()
        try:
            read = _double_encoded(text, start, budget) if text[start] == '"' else _value(text, start, budget)
        except Exhausted:
            break  # adversarial input: decide on what was found so far
        if read is None:
            failures += 1
            position = start + 1
            continue
        found.append(_Candidate(read[0], start, read[1]))
        position = read[1]
    return found


def _value(text: str, start: int, budget: Budget) -> tuple[Any, int] | None:
    """The object or array at ``start``, strictly if possible, else with the allowed repairs."""
    read = read_strict(text, start)
    if read is not None:
        return read
    try:
        return read_lenient(text, start, budget)
    except Invalid:
        return None


def _double_encoded(text: str, start: int, budget: Budget) -> tuple[Any, int] | None:
    """The value a JSON string literal at ``start`` encodes, when it encodes a whole object/array.

    A literal cut off before its closing quote is a truncated reply when it opens like encoded
    JSON; a stray quote in prose before a bracket (``"fatal" [sic]``) is not.
    """
    try:
        content, end = read_string(text, start, budget)
    except Truncated:
        if _ENCODED_OPENING.match(text, start):
            raise
        return None
    except Invalid:
        return None
    inner = content.strip()
    if not inner or inner[0] not in "{[":
        return None
    try:
        read = _value(inner, 0, budget)
    except Truncated:
        return None  # the quote closed: a fragment, not a cut-off reply
    if read is None or read[1] != len(inner):
        return None
    return read[0], end


def _fenced_regions(text: str, found: list[_Candidate]) -> list[tuple[int, int]]:
    """Spans of fenced blocks (``` or ~~~; an unclosed fence runs to the end).

    Fence marks inside a candidate (a code sample in a JSON string) are content, not fences.
    """
    regions: list[tuple[int, int]] = []
    spans = iter(found)
    span = next(spans, None)
    opened: tuple[str, int, int] | None = None  # (mark char, mark length, content start)
    for start, end in _fence_marks(text):
        while span is not None and span.end <= start:
            span = next(spans, None)
        if span is not None and span.start <= start:
            continue
        char, length = text[start], end - start
        if opened is None:
            opened = (char, length, end)
        elif char == opened[0] and length >= opened[1]:
            regions.append((opened[2], start))
            opened = None
    if opened is not None:
        regions.append((opened[2], len(text)))
    return regions


def _fence_marks(text: str) -> list[tuple[int, int]]:
    """Runs of three or more backticks or tildes, in order (str.find: far faster than a regex)."""
    marks: list[tuple[int, int]] = []
    for mark in ("```", "~~~"):
        start = text.find(mark)
        while start >= 0:
            end = start + 3
            while end < len(text) and text[end] == mark[0]:
                end += 1
            marks.append((start, end))
            start = text.find(mark, end)
    return sorted(marks)


def _choose(found: list[_Candidate], fenced: list[tuple[int, int]]) -> Any:
    """Policy §6: fenced first, objects over arrays, the last one at least half the longest."""
    inside = [c for c in found if any(start <= c.start < end for start, end in fenced)]
    pool = inside or found
    objects = [c for c in pool if isinstance(c.value, dict)]
    pool = objects or [c for c in pool if isinstance(c.value, list)]
    if len(pool) <= 1:
        return pool[0].value if pool else None
    sizes = [_compact_size(c.value) for c in pool]
    longest = max(sizes)
    return next(
        c.value for c, size in zip(reversed(pool), reversed(sizes), strict=True) if 2 * size >= longest
    )


def _compact_size(value: Any) -> int:
    """Characters in the compact serialization, the policy's measure of a candidate's size."""
    try:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    except RecursionError:  # only absurdly deep adversarial values
        return 0
