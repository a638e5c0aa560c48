"""orchestrate(): one phase, top to bottom: prompt, plan, budget, propose, decide, fallback, result."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from app.admission import ensure_usable, members_for, quorum_for
from app.budget import BudgetCheck, Budgeted, budgeted
from app.calls.fanout import Quorum
from app.calls.judging import Judged
from app.calls.validated import Attempt, run_single
from app.deadline import Deadline
from app.domain import ModelRef, Outcome, Success
from app.errors import AllModelsFailed, DeadlineExceeded
from app.notices import call_warnings, no_synthesis
from app.phases.catalog import Phase
from app.phases.config import ModelCall
from app.progress import emit
from app.prompts import TaskPrompt, phase_prompt
from app.roster import Roster
from app.strategies.base import Decided, PhaseRun, Plan, Proposed, Rankings, RouteDecision
from app.strategies.names import StrategyName
from app.strategies.registry import plan_for
from app.synthesis.answers import Answer, best_parallel_answer, by_alias, parse_answers
from app.synthesis.review import Review, review
from app.synthesis.validate import annotate
from app.synthesis.votes import Tally
from app.synthesis.wild_ideas import WildIdea
from app.timing import Stopwatch

Mode = Literal["orchestrated", "single", "fallback"]
DEADLINE_SLACK_S = 0.5
"""Time past the deadline for the steps' own bookkeeping before the backstop fires."""


@dataclass(frozen=True, slots=True)
class PhaseRequest:
    """What the caller asked for, already validated by the API layer."""

    idea: str
    context: dict[str, Any] = field(default_factory=dict)
    instructions: str | None = None
    models: tuple[str, ...] | None = None
    single_model: bool = False
    deadline_s: float | None = None
    """Overrides the phase's deadline for this request."""
    strategy: StrategyName | None = None
    samples: int | None = None
    layers: int | None = None
    max_cost_usd: float | None = None
    quorum: int | None = None
    quorum_grace_s: float | None = None


@dataclass(slots=True)
class PhaseResult:
    """A validated output and the record of how it was made."""

    phase: str
    output: dict[str, Any]
    mode: Mode
    synthesizer: ModelRef | None
    outcomes: list[Outcome]
    stopwatch: Stopwatch
    labels: dict[str, str] = field(default_factory=dict)
    wild_ideas: list[WildIdea] = field(default_factory=list)
    tally: Tally | None = None
    warnings: list[str] = field(default_factory=list)
    final_text: str = ""
    strategy: str = "single"
    rankings: Rankings | None = None
    route: RouteDecision | None = None
    answers: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    """Each parallel answer's parsed JSON by alias (for the agreement report)."""
    budget: BudgetCheck | None = None
    author: ModelRef | None = None
    """The model whose answer became ``output``: the judge, the fallback's member or the single model."""
    review: Review = field(default_factory=Review)
    """How far the parallel answers agreed with each other and with ``output``."""


class Orchestrator:
    """Runs phases against a roster; holds nothing per request."""

    def __init__(self, roster: Roster, *, orchestration_enabled: bool, rng: random.Random | None = None):
        self.roster = roster
        self.orchestration_enabled = orchestration_enabled
        self.rng = rng or random.Random()  # shuffles answer order; not security

    async def orchestrate(self, phase: Phase, request: PhaseRequest) -> PhaseResult:
        """Run ``phase`` for ``request``; raise an ``OrchestrationError`` when nothing valid came back."""
        deadline = Deadline(request.deadline_s or phase.config.deadline_s)
        try:
            # Every call already lives under the deadline; this is the one safety net that makes
            # the promise unconditional (an answer or a 504 by then, whatever a step forgot).
            async with asyncio.timeout(deadline.total_s + DEADLINE_SLACK_S):
                return await self._run(phase, request, deadline)
        except TimeoutError:
            raise DeadlineExceeded(
                f"phase {phase.name!r} passed its {deadline.total_s:g}s deadline",
                hint="raise deadline_s for this phase (or options.deadline_s), or retry",
                outcomes=[],
            ) from None

    async def _run(self, phase: Phase, request: PhaseRequest, deadline: Deadline) -> PhaseResult:
        """prompt -> plan -> fit the budget -> propose -> decide -> fallback -> result."""
        clock, roster = Stopwatch(), self.roster
        prompt = phase_prompt(
            phase, idea=request.idea, context=request.context, instructions=request.instructions
        )
        members = members_for(phase, request.models)
        if not (
            self.orchestration_enabled and phase.config.orchestration_enabled and not request.single_model
        ):
            ensure_usable(phase, roster, [])
            with clock.models("single"):
                attempt = await run_single(phase, prompt, roster, deadline=deadline, role="single")
            return _single_result(phase, attempt, clock, deadline, _Record(), mode="single")
        ensure_usable(phase, roster, members)
        plan = plan_for(phase, request.strategy, request.samples, request.layers)
        members, budget = budgeted(phase, roster, prompt, plan, members, request.max_cost_usd)
        quorum = quorum_for(phase, request.quorum, request.quorum_grace_s, len(members))
        run = self._phase_run(prompt, deadline, plan, members, quorum)
        emit("phase_started", phase=phase.name, strategy=plan.name, models=[m.model for m in members])
        with clock.models("fanout"):
            proposed = await plan.strategy.propose(run)
        answers = parse_answers(phase.output, proposed.answers)  # the one parse of each answer
        with clock.models("synthesis"):
            decided = await _decide(run, answers)
        record = _Record.of(plan, proposed, decided, budget)
        if (synthesized := _synthesized_result(phase, clock, record, decided.judged)) is not None:
            return synthesized
        record.warnings.append(no_synthesis(phase, decided.judged, len(answers), len(members)))
        if (best := best_parallel_answer(decided.judged.answers, decided.judged.tally)) is not None:
            return _best_answer_result(phase, clock, record, *best)
        with clock.models("fallback"):
            attempt = await run_single(phase, prompt, roster, deadline=deadline, role="fallback")
        return _single_result(phase, attempt, clock, deadline, record, mode="fallback")

    def _phase_run(
        self,
        prompt: TaskPrompt,
        deadline: Deadline,
        plan: Plan,
        members: list[ModelCall],
        quorum: Quorum | None,
    ) -> PhaseRun:
        """What the strategy's steps share: the task, the roster, the deadlines, the plan."""
        phase = plan.phase
        # The fan-out ends early enough for the judge: a hung member is cut off (and not retried)
        # at the fan-out's end rather than holding the phase until its deadline.
        proposals_end = deadline.ending_before(phase.config.synthesis.reserve_for(deadline.total_s))
        return PhaseRun(phase, prompt, self.roster, deadline, proposals_end, self.rng, plan, members, quorum)


@dataclass(slots=True)
class _Record:
    """What an orchestrated phase did before its output was chosen: every call and every warning."""

    outcomes: list[Outcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    strategy: str = "single"
    judged: Judged | None = None
    decided: Decided | None = None
    proposed: Proposed | None = None
    budget: Budgeted | None = None

    @classmethod
    def of(cls, plan: Plan, proposed: Proposed, decided: Decided, budget: Budgeted) -> _Record:
        judged = decided.judged
        outcomes = [annotate(o, judged.answers.get(o.model.alias)) for o in proposed.outcomes]
        outcomes += budget.dropped + judged.outcomes
        warnings = call_warnings(outcomes) + decided.notes + budget.notes()
        return cls(outcomes, warnings, plan.name, judged, decided, proposed, budget)

    def result(
        self,
        phase: Phase,
        clock: Stopwatch,
        *,
        output: dict[str, Any],
        mode: Mode,
        author: ModelRef | None,
        final_text: str,
        synthesizer: ModelRef | None = None,
    ) -> PhaseResult:
        """The phase's result, its output written by ``author``."""
        judged, decided, proposed = self.judged, self.decided, self.proposed
        answers = {alias: p.value for alias, p in judged.answers.items()} if judged else {}
        tally = judged.tally if judged else None
        return PhaseResult(
            phase=phase.name,
            output=output,
            mode=mode,
            synthesizer=synthesizer,
            outcomes=self.outcomes,
            stopwatch=clock,
            labels=judged.labels if judged else {},
            wild_ideas=judged.wild_ideas if judged else [],
            tally=tally,
            warnings=self.warnings,
            final_text=final_text,
            strategy=self.strategy,
            rankings=decided.rankings if decided else None,
            route=proposed.route if proposed else None,
            answers=answers,
            budget=self.budget.check if self.budget else None,
            author=author,
            review=review(phase.output.schema, answers, tally, output, mode=mode),
        )


async def _decide(run: PhaseRun, answers: list[Answer]) -> Decided:
    """The strategy's decision, when enough members answered; else no judge, only the answers."""
    config = run.phase.config
    if len(answers) < config.min_successes:  # no quorum, no judge: the answers go to the fallback
        return Decided(Judged(Attempt(), {}, by_alias(answers)))
    emit("synthesis_started", answers=len(answers), judges=list(config.synthesis.models))
    return await run.plan.strategy.decide(run, answers)


def _synthesized_result(
    phase: Phase, clock: Stopwatch, record: _Record, judged: Judged
) -> PhaseResult | None:
    """The judge's validated output, or ``None`` when synthesis gave none."""
    if (accepted := judged.attempt.accepted()) is None:
        return None
    output, judge = accepted
    text = judged.attempt.text
    return record.result(
        phase,
        clock,
        output=output,
        mode="orchestrated",
        author=judge.ref,
        final_text=text,
        synthesizer=judge.ref,
    )


def _best_answer_result(
    phase: Phase, clock: Stopwatch, record: _Record, alias: str, output: dict[str, Any]
) -> PhaseResult:
    """The fallback without synthesis: a member's own schema-valid answer."""
    answer = _answer_of(record.outcomes, alias)
    record.warnings.append(f"fallback: returned {alias}'s schema-valid answer without synthesis")
    text = answer.completion.text if answer else ""
    author = answer.model if answer else None
    return record.result(phase, clock, output=output, mode="fallback", author=author, final_text=text)


def _single_result(
    phase: Phase, attempt: Attempt, clock: Stopwatch, deadline: Deadline, record: _Record, *, mode: Mode
) -> PhaseResult:
    """One model's validated answer (alone, or the last fallback); else why there is none."""
    outcomes = record.outcomes + attempt.outcomes
    warnings = record.warnings + call_warnings(attempt.outcomes)
    if (accepted := attempt.accepted()) is not None:
        output, member = accepted
        if mode == "fallback":
            warnings.append(f"fallback: answered by the single model {member.ref.alias}")
        single = _Record(outcomes, warnings)
        return single.result(
            phase, clock, output=output, mode=mode, author=member.ref, final_text=attempt.text
        )
    if deadline.spent:
        raise DeadlineExceeded(
            f"phase {phase.name!r} passed its {deadline.total_s:g}s deadline without a valid answer",
            hint="raise deadline_s for this phase, or retry: every model's outcome is listed",
            outcomes=outcomes,
        )
    raise AllModelsFailed(
        f"no model produced a valid {phase.name!r} output",
        hint="see each model's error; check the providers' status and credentials",
        outcomes=outcomes,
        details={"validation_errors": attempt.parsed.errors if attempt.parsed else []},
    )


def _answer_of(outcomes: list[Outcome], alias: str) -> Success | None:
    return next(
        (o for o in outcomes if isinstance(o, Success) and o.model.alias == alias and o.role == "parallel"),
        None,
    )
