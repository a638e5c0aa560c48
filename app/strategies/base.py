"""What every strategy is made of: the run it works in, its plan, its steps' results, its calls."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from app.calls.fanout import Quorum, fan_out
from app.calls.guarded import Call
from app.calls.judging import Judged, judge
from app.calls.request import request_for
from app.deadline import Deadline
from app.domain import ModelRef, Outcome, Role, Success
from app.phases.catalog import Phase
from app.phases.config import ModelCall
from app.prompts import TaskPrompt
from app.roster import Member, Roster
from app.strategies.names import StrategyName
from app.synthesis.answers import Answer
from app.synthesis.merge import Merged

Members = Sequence[ModelCall]
"""The parallel members a strategy plans for."""


@dataclass(frozen=True, slots=True)
class PhaseRun:
    """What every step of one orchestrated phase request shares."""

    phase: Phase
    task: TaskPrompt
    roster: Roster
    deadline: Deadline
    """The phase's: decisions and the judge live under it."""
    proposals_end: Deadline
    """The fan-out's: the same clock ending early enough for the judge."""
    rng: random.Random
    """Shuffles answer order; not security."""
    plan: Plan
    members: list[ModelCall]
    """The parallel members left after the request's choice and the budget."""
    quorum: Quorum | None


@dataclass(frozen=True, slots=True)
class Plan:
    """The strategy for one request on one phase, after the request's overrides."""

    phase: Phase
    strategy: Strategy
    samples: int
    layers: int

    @property
    def name(self) -> StrategyName:
        return self.strategy.name


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """Calls a strategy will make of one model, for pricing before any is made."""

    alias: str
    role: Role
    max_tokens: int
    count: int = 1
    reads_answers: bool = False
    """It reads every answer besides the task (a judge, a ranker)."""
    in_turn: bool = False
    """It waits for the answers and then runs alone (a ballot on the writer's ``serial`` server)."""

    @property
    def writes_answer(self) -> bool:
        return self.role in ("parallel", "refiner")


@dataclass(frozen=True, slots=True)
class RouteDecision:
    category: str | None
    models: list[str]
    decided_by: Literal["classifier", "tags", "all"]


@dataclass(frozen=True, slots=True)
class Rankings:
    by_ranker: dict[str, list[str]]
    """Ranker alias -> the other models' aliases, best first (its own answer left out)."""
    scores: dict[str, float]
    """Model alias -> mean normalised Borda score (1.0 = ranked first by everyone)."""
    top: list[str]


@dataclass(slots=True)
class Proposed:
    outcomes: list[Outcome]
    answers: list[Success]
    route: RouteDecision | None = None


@dataclass(slots=True)
class Decided:
    judged: Judged
    rankings: Rankings | None = None
    notes: list[str] = field(default_factory=list)
    merged: Merged | None = None
    """strategy merge: the members' answers combined without a judge (``judged`` then holds no call)."""
    asked_single: tuple[str, ...] = ()
    """Single models the strategy already asked and that failed (ballot's writer): the fallback
    skips them rather than make the same call again."""


class Strategy:
    """``synthesize``: every member answers once, the judge reconciles. Others override a step."""

    name: ClassVar[StrategyName] = "synthesize"
    judged: ClassVar[bool] = True
    """Its decision asks the phase's judge (``merge``'s does not)."""
    needs_quorum: ClassVar[bool] = True
    """It decides only with the phase's ``min_successes`` answers (``ballot`` needs its writer's)."""

    def planned_calls(self, plan: Plan, roster: Roster, members: Sequence[ModelCall]) -> list[PlannedCall]:
        """Every call this strategy will make for ``members``, the judge's included."""
        return [*self.planned_proposals(plan, roster, members), *judge_calls(plan.phase, roster)]

    def planned_proposals(self, plan: Plan, roster: Roster, members: Members) -> list[PlannedCall]:
        """The calls before the judge: one answer per member."""
        return [PlannedCall(m.model, "parallel", m.max_tokens) for m in members]

    async def propose(self, run: PhaseRun) -> Proposed:
        """The candidate answers (and every call made to get them)."""
        calls = [member_call(run, m) for m in run.members]
        outcomes = await fan_out(calls, deadline=run.proposals_end, quorum=run.quorum)
        return Proposed(outcomes, successes(outcomes))

    async def decide(self, run: PhaseRun, answers: list[Answer]) -> Decided:
        """The final output through the judge."""
        return Decided(await judge_answers(run, answers))


def judge_calls(phase: Phase, roster: Roster) -> list[PlannedCall]:
    """The judge's call: the first usable synthesizer reading every answer."""
    synth = phase.config.synthesis
    judge = roster.first_usable(synth.models)
    return (
        []
        if judge is None
        else [PlannedCall(judge.ref.alias, "synthesizer", synth.max_tokens, reads_answers=True)]
    )


async def judge_answers(run: PhaseRun, answers: Sequence[Answer], extra_rules: Sequence[str] = ()) -> Judged:
    return await judge(
        run.phase, run.task, answers, run.roster, deadline=run.deadline, rng=run.rng, extra_rules=extra_rules
    )


def successes(outcomes: Sequence[Outcome]) -> list[Success]:
    return [o for o in outcomes if isinstance(o, Success)]


def member_call(
    run: PhaseRun,
    member_call: ModelCall,
    *,
    task: TaskPrompt | None = None,
    sample: int | None = None,
    temperature: float | None = None,
    role: Role = "parallel",
    suffix: str = "",
    schema: dict[str, object] | None = None,
) -> Call:
    """A parallel member's call on ``task`` (the phase's by default) for an answer to ``schema`` (the
    phase's by default), under a per-call alias for samples and layers (``reasoner#2``,
    ``reasoner@L2``) so each is its own record."""
    phase = run.phase
    member = run.roster.member(member_call.model)
    alias = member_call.model + (f"#{sample}" if sample is not None else "") + suffix
    if alias != member.ref.alias:
        member = _renamed(member, alias)
    request = request_for(
        member,
        task or run.task,
        temperature=temperature if temperature is not None else member_call.temperature,
        max_tokens=member_call.max_tokens,
        timeout_s=phase.config.model_timeout_s,
        schema=schema or phase.output.wire_schema_for(bounded_output=member.spec.bounded_output),
    )
    return Call(member, request, role, phase.name)


def _renamed(member: Member, alias: str) -> Member:
    return dataclasses.replace(member, ref=ModelRef(alias, member.ref.provider, member.ref.model_id))
