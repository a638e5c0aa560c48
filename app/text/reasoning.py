"""Separate a model's inline chain of thought (``<think>…</think>``) from its answer.

The rules are shared/reference/json-extraction.md §3: reasoning is never the answer, even when it
holds a complete draft; a closing tag without an opening one means everything before it was
reasoning (R1 distills whose chat template pre-fills ``<think>``); an opening tag that never closes
means everything after it is reasoning, and the reply has no answer (it was cut while thinking).
``<think>`` and ``<thinking>`` are both used, in any case.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_TAG = re.compile(r"<(/?)(think|thinking)\s*>", re.IGNORECASE)


class Reasoned(NamedTuple):
    """A reply split into its answer and its reasoning."""

    answer: str
    reasoning: str | None
    unfinished: bool
    """A reasoning block opened and never closed: whatever ``answer`` holds came before it, and the
    model never got to its real answer."""


def split_reasoning(text: str) -> Reasoned:
    """``(answer, reasoning, unfinished)`` for one raw reply; see the module doc for the rules."""
    text = text.replace("\ufeff", "")
    if _TAG.search(text) is None:  # the common case costs one scan
        return Reasoned(text.strip(), None, False)
    answer: list[str] = []
    thoughts: list[str] = []
    depth, position, unfinished = 0, 0, False
    tags = list(_TAG.finditer(text))
    # A closing tag with no opener before it: everything up to it was reasoning.
    first_open = next((m for m in tags if not m.group(1)), None)
    first_close = next((m for m in tags if m.group(1)), None)
    if first_close is not None and (first_open is None or first_close.start() < first_open.start()):
        thoughts.append(text[: first_close.start()])
        position = first_close.end()
        tags = [m for m in tags if m.start() >= position]
    for tag in tags:
        closing = bool(tag.group(1))
        piece = text[position : tag.start()]
        (thoughts if depth else answer).append(piece)
        if closing:
            depth = max(0, depth - 1)
        else:
            depth += 1
        position = tag.end()
    rest = text[position:]
    if depth:
        thoughts.append(rest)
        unfinished = True
    else:
        answer.append(rest)
    reasoning = "\n\n".join(t.strip() for t in thoughts if t.strip()) or None
    return Reasoned("".join(answer).strip(), reasoning, unfinished)
