"""Keeps the divergent ideas one model proposed and the others did not, before synthesis merges them.

Best effort, as upstream: a cheap model reads the opening of every answer and names, per answer,
the single idea no other answer has. Any failure yields no wild ideas and never blocks the phase.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.domain import Prompt
from app.fencing import Fence
from app.synthesis.extract import extract

MARKER = "Wild ideas:"
EXCERPT_CHARS = 1500


@dataclass(frozen=True, slots=True)
class WildIdea:
    """Upstream's ``{model, wildIdea, reasoning}`` item."""

    model: str
    wild_idea: str
    reasoning: str


def wild_ideas_prompt(phase: str, answers: Mapping[str, str]) -> Prompt:
    """Ask for each answer's most divergent idea; ``answers`` maps label -> answer text."""
    fence = Fence()
    blocks = "\n\n".join(
        fence.block(f"ANSWER {label}", text[:EXCERPT_CHARS]) for label, text in answers.items()
    )
    user = (
        f"{MARKER} {len(answers)} analysts answered the same {phase} planning task.\n\n"
        f"{fence.notice('each ANSWER block is the opening of an answer written by another model')}\n\n"
        f"{blocks}\n\n"
        "For each answer, name the single most divergent idea it proposes that is not "
        "substantially present in any other answer. Skip answers that add nothing distinct. "
        'Reply with only a JSON array of {"answer": "<label>", "wildIdea": "...", '
        '"reasoning": "why it is distinct and worth keeping"}; reply [] if there are none.'
    )
    return Prompt(
        system="You find the ideas that a consensus would lose. You reply with JSON only.",
        user=user,
    )


def parse_wild_ideas(text: str, labels: Mapping[str, str]) -> list[WildIdea]:
    """The well-formed items of the reply, labels mapped back to model aliases."""
    found = extract(text).value
    if not isinstance(found, list):
        return []
    return [idea for item in found if (idea := _item(item, labels))]


def _item(item: Any, labels: Mapping[str, str]) -> WildIdea | None:
    if not isinstance(item, dict):
        return None
    label, idea, why = item.get("answer"), item.get("wildIdea"), item.get("reasoning")
    if not (isinstance(label, str) and isinstance(idea, str) and isinstance(why, str)):
        return None
    model = labels.get(label.strip().removeprefix("Answer ").strip())
    return WildIdea(model, idea, why) if model and idea.strip() else None
