"""orchestrate(): one phase, top to bottom: prompt, plan, budget, propose, decide, fallback, result."""

from __future__ import annotations

import asyncio
import random

from app.admission import ensure_usable, members_for, quorum_for
from app.budget import budgeted
from app.calls.fanout import Quorum
from app.calls.judging import Judged
from app.calls.validated import Attempt, run_single
from app.deadline import Deadline
from app.errors import DeadlineExceeded, InvalidOptions
from app.estimate import Asked, Estimate, ensure_in_time, local_estimate, planned_calls
from app.notices import no_synthesis
from app.phases.catalog import Phase
from app.phases.config import ModelCall
from app.progress import emit
from app.prompts import TaskPrompt, phase_prompt
from app.results import (
    PhaseRequest,
    PhaseResult,
    Record,
    best_answer_result,
    merged_result,
    single_result,
    synthesized_result,
)
from app.roster import Roster
from app.strategies.base import Decided, PhaseRun, Plan
from app.strategies.registry import plan_for
from app.synthesis.answers import Answer, best_parallel_answer, by_alias, parse_answers
from app.synthesis.merge import merge_answers
from app.timing import Stopwatch

DEADLINE_SLACK_S = 0.5
"""Time past the deadline for the steps' own bookkeeping before the backstop fires."""


class Orchestrator:
    """Runs phases against a roster; holds nothing per request."""

    def __init__(self, roster: Roster, *, orchestration_enabled: bool, rng: random.Random | None = None):
        self.roster = roster
        self.orchestration_enabled = orchestration_enabled
        self.rng = rng or random.Random()  # shuffles answer order; not security

    def admit(self, phase: Phase, request: PhaseRequest) -> Estimate | None:
        """The local model's time estimate for ``request``; a 503 (``TooSlowNow``) before any call
        when at its current pace the phase cannot end by its deadline."""
        estimate = self._estimate(phase, request)
        ensure_in_time(phase, estimate, request.deadline_s or phase.config.deadline_s)
        return estimate

    def _estimate(self, phase: Phase, request: PhaseRequest) -> Estimate | None:
        r = request
        asked = Asked(self._orchestrated(phase, r), r.models, r.strategy, r.samples, r.layers)
        try:
            planned = planned_calls(phase, self.roster, asked)
        except InvalidOptions:  # the run says so, in its place among the checks
            return None
        return local_estimate(self.roster, planned)

    def _orchestrated(self, phase: Phase, request: PhaseRequest) -> bool:
        enabled = self.orchestration_enabled and phase.config.orchestration_enabled
        return enabled and not request.single_model

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
        estimate = self._estimate(phase, request)
        # The first event, before any model call: the plan, the deadline and the time it should take.
        started = {
            "phase": phase.name,
            "deadline_s": deadline.total_s,
            "estimate": estimate and estimate.shown(),
        }
        if not self._orchestrated(phase, request):
            ensure_usable(phase, roster, [])
            emit("phase_started", **started, strategy="single", models=list(phase.config.single_model))
            with clock.models("single"):
                attempt = await run_single(phase, prompt, roster, deadline=deadline, role="single")
            return single_result(phase, attempt, clock, deadline, Record(), mode="single")
        ensure_usable(phase, roster, members)
        plan = plan_for(phase, request.strategy, request.samples, request.layers)
        members, budget = budgeted(phase, roster, prompt, plan, members, request.max_cost_usd)
        quorum = quorum_for(phase, request.quorum, request.quorum_grace_s, len(members))
        run = self._phase_run(prompt, deadline, plan, members, quorum)
        # Whom the strategy will ask (ballot's writer is the single model, beside the members).
        planned = plan.strategy.planned_proposals(plan, roster, members)
        emit(
            "phase_started",
            **started,
            strategy=plan.name,
            models=list(dict.fromkeys(c.alias for c in planned)),
        )
        with clock.models("fanout"):
            proposed = await plan.strategy.propose(run)
        answers = parse_answers(phase.output, proposed.answers)  # the one parse of each answer
        with clock.models("synthesis"):
            decided = await _decide(run, answers)
        record = Record.of(plan, proposed, decided, budget)
        if decided.merged is not None:
            return merged_result(phase, clock, record, decided.merged)
        if (synthesized := synthesized_result(phase, clock, record, decided.judged)) is not None:
            return synthesized
        record.warnings.append(no_synthesis(phase, decided.judged, len(answers), len(members)))
        # Every judge failed: merging two or more valid answers beats picking one of them.
        judged = decided.judged
        valid = {alias: p.value if p.valid else None for alias, p in judged.answers.items()}
        merged = merge_answers(phase.output, valid, settled=judged.tally.settled() if judged.tally else None)
        if merged is not None and merged.answers > 1:
            return merged_result(phase, clock, record, merged, fallback=True)
        if (best := best_parallel_answer(decided.judged.answers, decided.judged.tally)) is not None:
            return best_answer_result(phase, clock, record, *best)
        with clock.models("fallback"):
            attempt = await run_single(
                phase, prompt, roster, deadline=deadline, role="fallback", skip=decided.asked_single
            )
        return single_result(phase, attempt, clock, deadline, record, mode="fallback")

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
        # A strategy without a judge (merge) keeps nothing back: its fan-out has the whole deadline.
        proposals_end = (
            deadline.ending_before(phase.config.synthesis.reserve_for(deadline.total_s))
            if plan.strategy.judged
            else deadline
        )
        return PhaseRun(phase, prompt, self.roster, deadline, proposals_end, self.rng, plan, members, quorum)


async def _decide(run: PhaseRun, answers: list[Answer]) -> Decided:
    """The strategy's decision, when enough members answered; else no judge, only the answers."""
    config = run.phase.config
    if run.plan.strategy.needs_quorum and len(answers) < config.min_successes:
        # No quorum, no judge: the answers go to the fallback.
        return Decided(Judged(Attempt(), {}, by_alias(answers)))
    judges = list(config.synthesis.models) if run.plan.strategy.judged else []
    emit("synthesis_started", answers=len(answers), judges=judges)
    return await run.plan.strategy.decide(run, answers)
