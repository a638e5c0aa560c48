"""Finds the JSON values inside a model's answer, most deliberate first.

Models wrap their JSON in fences, prose, reasoning and sometimes several drafts. The upstream
extractor gives up after the first balanced ``{…}`` that fails to parse, so a stray ``{placeholder}``
in the prose sinks a good answer (shared/reference §6). Here every plausible value is offered in
turn and the caller (schema validation) decides which one is the answer:

1. the contents of each fenced block (```` ```json ```` or bare ```` ``` ````; an unclosed fence
   runs to the end of the text);
2. each top-level JSON value that starts at a ``{`` or ``[`` anywhere else, decoded by the standard
   library from that position, so braces and quotes inside strings never confuse it and a quote in
   the prose before it does not either;
3. the whole text, for a bare value;
4. last, a repaired parse (json-repair: trailing commas, comments, single quotes, a truncated tail)
   of the first fence or of the text from its first ``{``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import json_repair

from app.providers.reasoning import split_reasoning

Source = Literal["fence", "span", "whole", "repaired"]

_FENCE = re.compile(r"```[ \t]*(?:json[c5]?|JSON)?[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_OPENERS = re.compile(r"[{\[]")
_DECODER = json.JSONDecoder()
# A failed decode can scan to the end of the text; bound the work on adversarial or huge answers.
_MAX_FAILED_DECODES = 200


@dataclass(frozen=True, slots=True)
class Candidate:
    """One JSON value found in the text and where it came from (``start``/``end`` index the text)."""

    value: Any
    source: Source
    start: int
    end: int


def strip_reasoning(text: str) -> str:
    """The answer without any ``<think>`` block, so reasoning drafts are never taken for output."""
    return split_reasoning(text).answer


def candidates(text: str) -> Iterator[Candidate]:
    """Every JSON value in ``text``, in the order a reader would trust them (see module doc)."""
    taken: list[tuple[int, int]] = []
    seen: list[Any] = []
    fences = list(_FENCE.finditer(text))
    for fence in fences:
        found = _decode_block(text, fence.start(1), fence.end(1), "fence")
        if found is not None:
            taken.append((found.start, found.end))
            seen.append(found.value)
            yield found
    for found in _spans(text, taken):
        taken.append((found.start, found.end))
        seen.append(found.value)
        yield found
    whole = _decode_block(text, 0, len(text), "whole")
    if whole is not None and not any(_inside(whole.start, span) for span in taken):
        seen.append(whole.value)
        yield whole
    repaired = _repair(text, fences)
    if repaired is not None and repaired.value not in seen:  # repair of valid JSON adds nothing
        yield repaired


def _decode_block(text: str, start: int, end: int, source: Source) -> Candidate | None:
    """The value a block holds when the whole block (trimmed) is exactly one JSON value."""
    block = text[start:end]
    stripped = block.strip()
    if not stripped:
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    offset = start + block.index(stripped[0])
    return Candidate(value, source, offset, offset + len(stripped))


def _spans(text: str, taken: list[tuple[int, int]]) -> Iterator[Candidate]:
    """Top-level values starting at ``{``/``[`` outside the spans already yielded."""
    position, failures = 0, 0
    while failures < _MAX_FAILED_DECODES:
        opener = _OPENERS.search(text, position)
        if opener is None:
            return
        start = opener.start()
        inside = next((span for span in taken if _inside(start, span)), None)
        if inside is not None:
            position = inside[1]
            continue
        try:
            value, end = _DECODER.raw_decode(text, start)
        except ValueError:
            failures += 1
            position = start + 1
            continue
        yield Candidate(value, "span", start, end)
        position = end


def _repair(text: str, fences: list[re.Match[str]]) -> Candidate | None:
    """A lenient parse of the likeliest block: a malformed answer beats no answer, if it validates."""
    if fences:
        start, end = fences[0].start(1), fences[0].end(1)
    else:
        brace = text.find("{")
        if brace < 0:
            return None
        start, end = brace, len(text)
    value = json_repair.repair_json(text[start:end], return_objects=True)
    if isinstance(value, dict | list) and value:
        return Candidate(value, "repaired", start, end)
    return None


def _inside(index: int, span: tuple[int, int]) -> bool:
    return span[0] <= index < span[1]
