"""Separate a model's inline chain of thought (``<think>…</think>``) from its answer."""

from __future__ import annotations

import re

_CLOSE = re.compile(r"</think\s*>", re.IGNORECASE)
_TAG = re.compile(r"</?think\s*>", re.IGNORECASE)
_OPEN_AT_START = re.compile(r"\A\s*<think\s*>", re.IGNORECASE)


def split_reasoning(text: str) -> tuple[str, str | None]:
    """``(answer, reasoning)``: the answer is what follows the last ``</think>``.

    Workers AI's R1-distill often omits the opening ``<think>`` (its chat template emits it), so
    the closing tag alone decides where the answer starts. Everything before it, tags removed, is
    the reasoning. A reply that opens a ``<think>`` and never closes it ran out of tokens while
    thinking: all of it is reasoning and the answer is empty.
    """
    closes = list(_CLOSE.finditer(text))
    if closes:
        head, answer = text[: closes[-1].start()], text[closes[-1].end() :]
    elif _OPEN_AT_START.match(text):
        head, answer = text, ""
    else:
        return text.strip(), None
    pieces = [piece.strip() for piece in _TAG.split(head)]
    reasoning = "\n\n".join(piece for piece in pieces if piece)
    return answer.strip(), reasoning or None
