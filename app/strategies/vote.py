"""``vote``: parallel answers, then the weighted majority on the decision field, then the judge."""

from __future__ import annotations

from app.strategies.base import Decided, PhaseRun, Strategy
from app.strategies.majority import decide_by_majority
from app.synthesis.answers import Answer


class Vote(Strategy):
    """The judge writes the reasoning for the voted option (the vote is kept even if it strays)."""

    name = "vote"

    async def decide(self, run: PhaseRun, answers: list[Answer]) -> Decided:
        return await decide_by_majority(run, self.name, answers)
