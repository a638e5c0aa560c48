"""``merge``: every member answers once, then their schema-valid answers are merged field by field."""

from __future__ import annotations

from collections.abc import Sequence

from app.calls.judging import Judged
from app.calls.validated import Attempt
from app.phases.config import ModelCall
from app.roster import Roster
from app.strategies.base import Decided, PhaseRun, Plan, PlannedCall, Strategy
from app.synthesis.answers import Answer, by_alias
from app.synthesis.merge import merge_answers
from app.synthesis.votes import tally


class Merge(Strategy):
    """No judge: majority, median and union over the answers (app/synthesis/merge.py), zero extra calls."""

    name = "merge"
    judged = False

    def planned_calls(self, plan: Plan, roster: Roster, members: Sequence[ModelCall]) -> list[PlannedCall]:
        return self.planned_proposals(plan, roster, members)

    async def decide(self, run: PhaseRun, answers: list[Answer]) -> Decided:
        parsed = {a.alias: a.parsed.value if a.parsed.valid else None for a in answers}
        rule = run.phase.config.decision
        votes = tally(rule, parsed) if rule is not None else None
        # The phase's decision rule (a veto counts double) settles its field, as in strategy vote.
        merged = merge_answers(run.phase.output, parsed, settled=votes.settled() if votes else None)
        judged = Judged(Attempt(), {}, by_alias(answers), votes)
        notes = [merged.note()] if merged is not None and merged.fell_back else []
        return Decided(judged, notes=notes, merged=merged)
