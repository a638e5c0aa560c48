"""``self_moa``: the single best model n times at rising temperatures, then the judge."""

from __future__ import annotations

from collections.abc import Sequence

from app.phases.catalog import Phase
from app.phases.config import ModelCall
from app.roster import Roster
from app.strategies.base import Members, PhaseRun, Plan, PlannedCall, Proposed, Strategy
from app.strategies.sampling import planned_samples, sample


class SelfMoa(Strategy):
    """One model, many samples: diversity from temperature instead of from other models."""

    name = "self_moa"

    def planned_proposals(self, plan: Plan, roster: Roster, members: Members) -> list[PlannedCall]:
        return planned_samples([best(plan.phase, roster, members)] if members else [], plan.samples)

    async def propose(self, run: PhaseRun) -> Proposed:
        return await sample(run, [best(run.phase, run.roster, run.members)], run.plan.samples)


def best(phase: Phase, roster: Roster, members: Sequence[ModelCall]) -> ModelCall:
    """self_moa's model: the configured best model, else the first usable member."""
    alias = phase.config.best_model
    chosen = next((m for m in members if m.model == alias), None) if alias else None
    return chosen or next((m for m in members if roster.member(m.model).usable), members[0])
