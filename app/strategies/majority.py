"""Shared by vote and self_consistency: the weighted majority on the decision field decides it."""

from __future__ import annotations

from app.calls.judging import Judged
from app.strategies.base import Decided, PhaseRun, judge_answers
from app.strategies.names import StrategyName
from app.synthesis.answers import Answer
from app.synthesis.votes import tally


async def decide_by_majority(run: PhaseRun, name: StrategyName, answers: list[Answer]) -> Decided:
    """The judge writes the reasoning for the voted option; the vote is kept even if it strays.
    Without a majority (or a decision field) the judge decides alone."""
    rule = run.phase.config.decision
    if rule is None:
        return Decided(await judge_answers(run, answers))
    votes = tally(rule, {a.alias: a.parsed.value for a in answers})
    if votes.leader is None:
        judged = await judge_answers(run, answers)
        return Decided(judged, notes=[f"{name}: no majority on {rule.field}; the judge decided"])
    instruction = (
        f"The answers voted on `{rule.field}` and the weighted majority is {votes.leader}. "
        f"The final answer must set {rule.field} to {votes.leader}; write the reasoning so it "
        "is consistent with that decision and addresses the dissenting arguments."
    )
    judged = await judge_answers(run, answers, extra_rules=[instruction])
    return Decided(judged, notes=_keep_decision(judged, rule.field, votes.leader))


def _keep_decision(judged: Judged, field_name: str, winner: str) -> list[str]:
    """The vote decides the decision field, whatever the judge wrote."""
    parsed = judged.attempt.parsed
    if parsed is None or not parsed.valid or parsed.value is None:
        return []
    chosen = parsed.value.get(field_name)
    if chosen == winner:
        return []
    parsed.value[field_name] = winner
    return [f"the judge wrote {field_name}={chosen}; the vote's {winner} was kept"]
