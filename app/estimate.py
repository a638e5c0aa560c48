"""How long a phase on the local model will take at the server's current pace, known before any call.

The pessimistic reading, as the cost budget's: every call decodes its whole ``max_tokens``. Calls
that write answers (members, samples) run side by side on the server's slots, in waves behind the
local calls already in flight; calls that read the answers (the judge, a ranker) or wait for them
(ballots on a ``serial`` server) come after them, one by one. The speed is the median per-slot
speed of the server's recent answers (``app.local_pace``); with none fresh there is no estimate
and the phase runs (and measures).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.admission import members_for
from app.errors import TooSlowNow
from app.local_pace import LocalPace, pace_of
from app.phases.catalog import Phase
from app.roster import Roster
from app.strategies.base import PlannedCall
from app.strategies.names import StrategyName
from app.strategies.registry import plan_for

MIN_RETRY_AFTER_S = 5
MAX_DEADLINE_S = 3600
"""The largest ``options.deadline_s`` a request may ask for (the API's bound)."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """The phase's expected seconds at the current pace, and what it was computed from."""

    seconds: float
    tokens_per_s: float
    slots: int
    queued: int
    """Local calls already in flight in this service when the estimate was made."""
    calls: int
    retry_after_s: int
    """When asking again may get another answer: the pace figure is stale by then."""

    def shown(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "tokens_per_s": round(self.tokens_per_s, 1),
            "slots": self.slots,
            "queued": self.queued,
            "calls": self.calls,
        }


@dataclass(frozen=True, slots=True)
class Asked:
    """The request's options that decide its calls."""

    orchestrated: bool
    models: tuple[str, ...] | None = None
    strategy: StrategyName | None = None
    samples: int | None = None
    layers: int | None = None


def planned_calls(phase: Phase, roster: Roster, asked: Asked) -> list[PlannedCall]:
    """The calls the request will make: the strategy's plan, or the single model's one call."""
    config = phase.config
    if not asked.orchestrated:
        single = roster.first_usable(config.single_model)
        return [PlannedCall(single.ref.alias, "single", config.single_max_tokens)] if single else []
    members = members_for(phase, asked.models)
    plan = plan_for(phase, asked.strategy, asked.samples, asked.layers)
    return plan.strategy.planned_calls(plan, roster, members)


def local_estimate(roster: Roster, planned: Sequence[PlannedCall]) -> Estimate | None:
    """The time of the ``planned`` calls on the local server; ``None`` when none is local or its
    pace is unknown."""
    paced = [(c, pace_of(roster.member(c.alias).provider)) for c in planned]
    local = [c for c, pace in paced if pace is not None]
    pace = next((p for _, p in paced if p is not None), None)
    speed = pace.tokens_per_s() if pace is not None else None
    if pace is None or speed is None or not local:
        return None
    provider = roster.member(local[0].alias).ref.provider
    queued = roster.resilience.in_use(provider)
    writers = [c for c in local if not (c.reads_answers or c.in_turn)]
    readers = [c for c in local if c.reads_answers or c.in_turn]
    waves = math.ceil((sum(c.count for c in writers) + queued) / pace.slots) if writers else 0
    side_by_side = waves * max((c.max_tokens for c in writers), default=0)
    one_by_one = sum(c.max_tokens * c.count for c in readers)
    seconds = (side_by_side + one_by_one) / speed
    calls = sum(c.count for c in local)
    return Estimate(seconds, speed, pace.slots, queued, calls, _retry_after(pace))


def ensure_in_time(phase: Phase, estimate: Estimate | None, deadline_s: float) -> None:
    """503 with Retry-After, before any call, when the estimate does not fit the deadline."""
    if estimate is None or estimate.seconds <= deadline_s:
        return
    needed = math.ceil(estimate.seconds)
    raise TooSlowNow(
        f"phase {phase.name!r} would take about {estimate.seconds:.0f}s on the local model at its "
        f"current {estimate.tokens_per_s:.1f} tokens/s per slot ({estimate.calls} calls, "
        f"{estimate.queued} already running, {estimate.slots} slots), past its {deadline_s:g}s deadline",
        hint=f"retry after {estimate.retry_after_s}s (the machine may be less busy), "
        + (f"raise options.deadline_s above {needed}, " if needed <= MAX_DEADLINE_S else "")
        + "or use options.single_model (one call instead of the whole orchestration)",
        details={"estimate": estimate.shown(), "deadline_s": deadline_s},
        retry_after_s=estimate.retry_after_s,
    )


def _retry_after(pace: LocalPace) -> int:
    return max(MIN_RETRY_AFTER_S, math.ceil(pace.fresh_for_s()))
