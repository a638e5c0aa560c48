"""The strategies' names and what each needs of a phase: the one list, read by config, request and API."""

from __future__ import annotations

from typing import Literal, get_args

StrategyName = Literal[
    "synthesize", "vote", "self_consistency", "rank", "route", "self_moa", "moa", "merge", "ballot"
]
NAMES: tuple[StrategyName, ...] = get_args(StrategyName)

NEEDS_DECISION: frozenset[StrategyName] = frozenset({"vote"})
"""Strategies that vote on the phase's decision field, so cannot run on a phase without one."""


def unfit_reason(name: StrategyName, *, has_decision: bool) -> str | None:
    """Why ``name`` cannot run on a phase, or ``None`` when it can."""
    if name in NEEDS_DECISION and not has_decision:
        return f"strategy {name!r} needs a decision field"
    return None
