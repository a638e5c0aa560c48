"""``self_consistency``: every model n times at rising temperatures, majority per decision field, judge."""

from __future__ import annotations

from collections.abc import Sequence

from app.calls.fanout import Quorum
from app.phases.catalog import Phase
from app.phases.config import ModelCall
from app.roster import Roster
from app.strategies.base import Decided, PhaseRun, Plan, PlannedCall, Proposed, Strategy
from app.strategies.majority import decide_by_majority
from app.strategies.sampling import planned_samples, sample
from app.synthesis.answers import Answer


class SelfConsistency(Strategy):
    name = "self_consistency"

    def planned_proposals(
        self, phase: Phase, roster: Roster, plan: Plan, members: Sequence[ModelCall]
    ) -> list[PlannedCall]:
        return planned_samples(members, plan.samples)

    async def propose(
        self, run: PhaseRun, plan: Plan, members: list[ModelCall], quorum: Quorum | None
    ) -> Proposed:
        return await sample(run, members, plan.samples)  # every sample counts: no quorum

    async def decide(self, run: PhaseRun, plan: Plan, answers: list[Answer]) -> Decided:
        return await decide_by_majority(run, self.name, answers)
