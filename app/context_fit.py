"""The request's ``context`` as compact JSON, trimmed by priority to fit a model's context window.

Later phases carry every earlier phase's output. Serialised minified it often still outgrows a
small model's window once the call's ``max_tokens`` is reserved for the answer, so each model gets
the largest context that fits its own window (models of one phase differ: 32K to 200K tokens).

Entries rank in three tiers (most important first):

1. the phases this phase depends on most (app/phases/dependencies.py), in that table's order;
2. the caller's free-form extras (search results, constraints, intake), smallest first: the caller
   added them for this request, and a small one costs little to keep;
3. the other phases' outputs, the nearest earlier phase first.

Trimming goes from the least important entry up, one step at a time, re-measuring after each:
first tiers 2 and 3, then tier 1 (so the most depended-on phases stay whole as long as anything
else can give way). Each group goes through three passes: shorten (strings over 400 characters are
cut, lists over 5 items shortened), shorten harder (100 characters, 2 items), then drop whole
entries. Every cut is marked in place, and the prompt names what was shortened or left out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.fencing import defuse
from app.phases.dependencies import WORKFLOW, depends_on

CHARS_PER_TOKEN = 3.5
"""For budgeting only: conservative beside the ~4 characters a token of usage estimates, since
JSON punctuation, numbers and non-English text take more tokens per character."""
OVERHEAD_TOKENS = 64
"""Tokens a chat template adds around the messages (role headers, special tokens)."""


def estimate_tokens(chars: int) -> int:
    """A prompt of ``chars`` characters, in tokens, rounded up, template overhead included."""
    return math.ceil(chars / CHARS_PER_TOKEN) + OVERHEAD_TOKENS


def chars_within(tokens: int) -> int:
    """How many prompt characters fit in ``tokens`` (the inverse of ``estimate_tokens``)."""
    return max(0, math.floor((tokens - OVERHEAD_TOKENS) * CHARS_PER_TOKEN))


@dataclass(frozen=True, slots=True)
class Cut:
    """How far one shortening pass goes."""

    chars: int
    items: int


SHORT = Cut(chars=400, items=5)
TERSE = Cut(chars=100, items=2)


def shorten(value: Any, cut: Cut) -> Any:
    """``value`` with long strings cut and long lists shortened, at every depth; cuts are marked."""
    if isinstance(value, str) and len(value) > cut.chars:
        return f"{value[: cut.chars]}… [{len(value) - cut.chars} more characters cut]"
    if isinstance(value, list) and len(value) > cut.items:
        kept = [shorten(item, cut) for item in value[: cut.items]]
        return [*kept, f"… [{len(value) - cut.items} more items cut]"]
    if isinstance(value, list):
        return [shorten(item, cut) for item in value]
    if isinstance(value, dict):
        return {key: shorten(item, cut) for key, item in value.items()}
    return value


def _member(key: str, value: Any) -> str:
    """One ``"key":value`` member of the minified object, look-alike markers defused."""
    return defuse(json.dumps(key, ensure_ascii=False) + ":" + _compact(value))


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class FittedContext:
    """The context as one model will read it."""

    json: str
    """Minified, defused JSON; empty when every entry was left out."""
    kept: tuple[str, ...]
    """Entries kept whole."""
    shortened: tuple[str, ...]
    dropped: tuple[str, ...]

    def note(self) -> str | None:
        """What the model is told about the trimming; ``None`` when nothing was trimmed."""
        if not self.shortened and not self.dropped:
            return None
        said = ["Note: to fit this model's context window, the context was trimmed."]
        if self.shortened:
            said.append(
                f"Shortened (long texts cut, long lists cut short, each cut marked in place): "
                f"{', '.join(self.shortened)}."
            )
        if self.dropped:
            said.append(f"Left out entirely: {', '.join(self.dropped)}.")
        if self.kept:
            said.append(f"Kept whole: {', '.join(self.kept)}.")
        return " ".join(said)


class RankedContext:
    """A request's context, ranked for one phase; ``fit`` renders it within a character budget."""

    def __init__(self, phase: str, context: Mapping[str, Any]) -> None:
        self._values = dict(context)
        self._whole = {key: _member(key, value) for key, value in self._values.items()}
        self.primary, self.rest = _rank(phase, self._whole)
        self.full = self._render(dict(self._whole), shortened=set())
        self._fitted: dict[int, FittedContext] = {}

    def __bool__(self) -> bool:
        return bool(self._values)

    def keys(self) -> list[str]:
        return list(self._values)

    def fit(self, budget_chars: int) -> FittedContext:
        """The most complete rendering whose JSON is at most ``budget_chars`` long (cached)."""
        if len(self.full.json) <= budget_chars:
            return self.full
        if budget_chars not in self._fitted:
            self._fitted[budget_chars] = self._trim(budget_chars)
        return self._fitted[budget_chars]

    def _trim(self, budget: int) -> FittedContext:
        members: dict[str, str | None] = dict(self._whole)
        shortened: set[str] = set()

        def size() -> int:
            present = [m for m in members.values() if m is not None]
            return 2 + sum(map(len, present)) + max(0, len(present) - 1)

        for group in (self.rest, self.primary):
            for step in (SHORT, TERSE, None):
                for key in reversed(group):  # least important first
                    if step is None:
                        members[key] = None
                        shortened.discard(key)
                    else:
                        cut = _member(key, shorten(self._values[key], step))
                        if len(cut) < len(members[key] or ""):
                            members[key] = cut
                            shortened.add(key)
                    if size() <= budget:
                        return self._render(members, shortened)
        return self._render(members, shortened)

    def _render(self, members: Mapping[str, str | None], shortened: set[str]) -> FittedContext:
        present = [m for m in members.values() if m is not None]
        return FittedContext(
            json="{" + ",".join(present) + "}" if present else "",
            kept=tuple(k for k, m in members.items() if m is not None and k not in shortened),
            shortened=tuple(k for k in members if k in shortened),
            dropped=tuple(k for k, m in members.items() if m is None),
        )


def _rank(phase: str, members: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(the phases ``phase`` depends on, everything else), each most important first."""
    primary = [p for p in depends_on(phase) if p in members]
    extras = sorted((k for k in members if k not in WORKFLOW), key=lambda k: len(members[k]))
    here = WORKFLOW.index(phase) if phase in WORKFLOW else len(WORKFLOW)

    def distance(name: str) -> tuple[bool, int]:
        at = WORKFLOW.index(name)
        return at > here, abs(here - at)  # earlier phases before later ones (stale after a pivot)

    others = sorted((k for k in members if k in WORKFLOW and k not in primary), key=distance)
    return primary, extras + others
