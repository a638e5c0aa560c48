"""``self_consistency``: every model n times at rising temperatures, majority per decision field, judge."""

from __future__ import annotations

from app.roster import Roster
from app.strategies.base import Decided, Members, PhaseRun, Plan, PlannedCall, Proposed, Strategy
from app.strategies.majority import decide_by_majority
from app.strategies.sampling import planned_samples, sample
from app.synthesis.answers import Answer


class SelfConsistency(Strategy):
    """Every member sampled several times; the samples vote like vote's answers."""

    name = "self_consistency"

    def planned_proposals(self, plan: Plan, roster: Roster, members: Members) -> list[PlannedCall]:
        return planned_samples(members, plan.samples)

    async def propose(self, run: PhaseRun) -> Proposed:
        return await sample(run, run.members, run.plan.samples)  # every sample counts: no quorum

    async def decide(self, run: PhaseRun, answers: list[Answer]) -> Decided:
        return await decide_by_majority(run, self.name, answers)
