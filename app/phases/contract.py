"""What the planning workflow's own steps need from an output, beyond upstream's validator.

Upstream's validator (the published schemas, shared/reference/phase-schemas.json) accepts some
outputs that the workflow then fails to use: its save step writes them to columns that are NOT
NULL. Each rule here is a JSON Schema ``if``/``then`` that OutputSchema adds to what it validates
and publishes (``OutputSchema.contract``), so such an output is invalid, goes to the repair round
and the fallbacks like any other, and never reaches the workflow. A rule only ever narrows the
schema: anything valid here is valid upstream. Models are not sent the rules as structured output
(decoders reject if/then); the phase prompt and the repair prompt's errors tell them instead.
"""

from __future__ import annotations

from typing import Any

KILL_PARKS_WITH_A_REASON: dict[str, Any] = {
    # A KILL with parkedForFuture is saved to planning_parked_ideas, whose reason is NOT NULL.
    # parkedForFuture absent or null is fine: the save step then parks nothing.
    "if": {
        "properties": {"verdict": {"const": "KILL"}, "parkedForFuture": {"type": "object"}},
        "required": ["verdict", "parkedForFuture"],
    },
    "then": {
        "properties": {
            "parkedForFuture": {
                "required": ["reason"],
                "properties": {"reason": {"type": "string", "minLength": 1}},
            }
        }
    },
}

RULES: dict[str, tuple[dict[str, Any], ...]] = {"kill-test": (KILL_PARKS_WITH_A_REASON,)}
"""Phase name -> the conditional rules its output must also satisfy."""
