"""Shared by self_consistency and self_moa: the same model asked several times at rising temperatures."""

from __future__ import annotations

from collections.abc import Sequence

from app.calls.fanout import fan_out
from app.phases.config import ModelCall
from app.strategies.base import PhaseRun, PlannedCall, Proposed, member_call, successes


def rising(samples: int) -> list[float]:
    """``samples`` temperatures rising across the parallel range 0.3-0.7."""
    if samples == 1:
        return [0.5]
    return [round(0.3 + 0.4 * i / (samples - 1), 2) for i in range(samples)]


async def sample(run: PhaseRun, chosen: Sequence[ModelCall], samples: int) -> Proposed:
    """Every chosen member ``samples`` times, each sample its own record (``reasoner#2``)."""
    calls = [
        member_call(run, member, sample=i, temperature=t)
        for member in chosen
        for i, t in enumerate(rising(samples), 1)
    ]
    outcomes = await fan_out(calls, deadline=run.proposals_end)
    return Proposed(outcomes, successes(outcomes))


def planned_samples(chosen: Sequence[ModelCall], samples: int) -> list[PlannedCall]:
    return [PlannedCall(m.model, "parallel", m.max_tokens, count=samples) for m in chosen]
