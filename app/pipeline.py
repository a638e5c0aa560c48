"""orchestrate(): one phase, top to bottom — prompt, fan-out, synthesis, fallback, result."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from app.budget import BudgetCheck, fit
from app.deadline import Deadline
from app.domain import SKIPS_THAT_DEGRADE, Failure, ModelRef, Outcome, Success
from app.errors import AllModelsFailed, DeadlineExceeded, InvalidOptions, NoUsableProvider
from app.fanout import Quorum
from app.phases.catalog import Phase
from app.phases.config import ModelCall
from app.progress import emit
from app.prompts import phase_prompt
from app.roster import Roster
from app.strategies import Decided, Rankings, RouteDecision, StrategyName, decide, plan_for, propose
from app.synthesis.review import Review, review
from app.synthesis.single import Attempt, run_single
from app.synthesis.synthesize import Judged, best_parallel_answer, parse_answers
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
        clock = Stopwatch(Deadline(request.deadline_s or phase.config.deadline_s))
        try:
            # Every step already lives under the deadline; this is the backstop that makes the
            # promise unconditional (an answer or a 504 by then, whatever a step forgot).
            async with asyncio.timeout(clock.deadline.total_s + DEADLINE_SLACK_S):
                result = await self._run(phase, request, clock)
        except TimeoutError:
            raise DeadlineExceeded(
                f"phase {phase.name!r} passed its {clock.deadline.total_s:g}s deadline",
                hint="raise deadline_s for this phase (or options.deadline_s), or retry",
                outcomes=[],
            ) from None
        result.review = review(
            phase.output.schema, result.answers, result.tally, result.output, mode=result.mode
        )
        return result

    async def _run(self, phase: Phase, request: PhaseRequest, clock: Stopwatch) -> PhaseResult:
        config, roster = phase.config, self.roster
        prompt = phase_prompt(
            phase, idea=request.idea, context=request.context, instructions=request.instructions
        )
        members = _members(phase, request.models)
        orchestrate = self.orchestration_enabled and config.orchestration_enabled and not request.single_model
        _ensure_usable(phase, roster, members if orchestrate else [])
        if not orchestrate:
            with clock.models("single"):
                attempt = await run_single(phase, prompt, roster, deadline=clock.deadline, role="single")
            return _finish_single(phase, attempt, clock, [], mode="single")

        plan = plan_for(phase, request.strategy, request.samples, request.layers)
        budget: BudgetCheck | None = None
        dropped: list[Outcome] = []
        max_cost = request.max_cost_usd or config.max_cost_usd
        if max_cost is not None:
            per_member = (
                plan.samples if plan.name == "self_consistency" else plan.layers if plan.name == "moa" else 1
            )
            members, budget = fit(phase, roster, prompt, members, max_cost, calls_per_member=per_member)
            dropped = [
                Failure(
                    roster.member(alias).ref,
                    "parallel",
                    "skipped",
                    f"dropped to stay under max_cost_usd={max_cost:g}",
                    error_kind="budget",
                )
                for alias in budget.dropped
            ]
        quorum = _quorum(phase, request, len(members))
        emit("phase_started", phase=phase.name, strategy=plan.name, models=[m.model for m in members])
        # The fan-out ends early enough for the judge: a hung member is cut off (and not retried)
        # at the fan-out's end rather than holding the phase until its deadline.
        fanout_deadline = clock.deadline.ending_before(config.synthesis.reserve_for(clock.deadline.total_s))
        with clock.models("fanout"):
            proposed = await propose(
                plan, phase, prompt, roster, members, deadline=fanout_deadline, quorum=quorum, rng=self.rng
            )
        successes = proposed.answers
        with clock.models("synthesis"):
            if len(successes) >= config.min_successes:
                emit("synthesis_started", answers=len(successes), judges=list(config.synthesis.models))
                decided = await decide(
                    plan, phase, prompt, successes, roster, deadline=clock.deadline, rng=self.rng
                )
            else:  # no quorum, no judge: the answers are still parsed for the fallback
                decided = Decided(Judged(Attempt(), {}, parse_answers(phase, successes)))
        judged = decided.judged
        outcomes = [annotate(o, judged.answers.get(o.model.alias)) for o in proposed.outcomes]
        outcomes += dropped + judged.outcomes
        result = PhaseResult(
            phase.name,
            {},
            "orchestrated",
            None,
            outcomes,
            clock,
            judged.labels,
            judged.wild_ideas,
            judged.tally,
            _warnings(outcomes) + decided.notes + _budget_note(budget),
            strategy=plan.name,
            rankings=decided.rankings,
            route=proposed.route,
            answers={alias: p.value for alias, p in judged.answers.items()},
            budget=budget,
        )
        if (accepted := judged.attempt.accepted()) is not None:
            result.output, member = accepted
            result.synthesizer, result.final_text = member.ref, judged.attempt.text
            result.author = member.ref
            return result

        if len(successes) < config.min_successes:
            result.warnings.append(
                f"only {len(successes)} of {len(members)} parallel models answered; "
                f"min_successes is {config.min_successes}"
            )
        else:
            result.warnings.append(_synthesis_failure(judged.attempt))
        best = best_parallel_answer(judged)
        if best is not None:
            alias, result.output = best
            answer = _answer_of(outcomes, alias)
            result.mode, result.final_text = "fallback", answer.completion.text if answer else ""
            result.author = answer.model if answer else None
            result.warnings.append(f"fallback: returned {alias}'s schema-valid answer without synthesis")
            return result
        with clock.models("fallback"):
            attempt = await run_single(phase, prompt, roster, deadline=clock.deadline, role="fallback")
        return _finish_single(phase, attempt, clock, outcomes, mode="fallback", warnings=result.warnings)


def _members(phase: Phase, chosen: tuple[str, ...] | None) -> list[ModelCall]:
    """The parallel calls to make: all configured, or the caller's subset of them."""
    configured = [c.model for c in phase.config.parallel]
    unknown = [m for m in chosen or () if m not in configured]
    if unknown:
        raise InvalidOptions(
            f"options.models names {unknown}, not configured for phase {phase.name!r}",
            hint=f"choose among: {', '.join(configured)}",
            details={"field": "options.models", "allowed": configured},
        )
    return [c for c in phase.config.parallel if chosen is None or c.model in chosen]


def _quorum(phase: Phase, request: PhaseRequest, members: int) -> Quorum | None:
    """The request's quorum, else the phase's; ``None`` waits for every member."""
    config = phase.config
    needed = request.quorum or config.quorum
    if needed is None:
        return None
    if not config.min_successes <= needed <= members:
        raise InvalidOptions(
            f"options.quorum={needed} is outside {config.min_successes}..{members} for phase {phase.name!r}",
            hint=f"use at least min_successes ({config.min_successes}) and at most the number of "
            f"parallel models asked ({members})",
            details={"field": "options.quorum", "min": config.min_successes, "max": members},
        )
    grace = request.quorum_grace_s if request.quorum_grace_s is not None else config.quorum_grace_s
    return Quorum(needed, grace)


def _ensure_usable(phase: Phase, roster: Roster, members: list[ModelCall]) -> None:
    """503 before any work when neither the parallel models nor a single model can be called."""
    if any(roster.member(c.model).usable for c in members):
        return
    if roster.first_usable(phase.config.single_model) is not None:
        return
    aliases = [c.model for c in members] + list(phase.config.single_model)
    raise NoUsableProvider(
        f"no provider is configured for phase {phase.name!r}",
        hint="set the credentials of at least one provider: " + ", ".join(roster.missing_settings(aliases)),
    )


def _finish_single(
    phase: Phase,
    attempt: Attempt,
    clock: Stopwatch,
    earlier: list[Outcome],
    *,
    mode: Mode,
    warnings: list[str] | None = None,
) -> PhaseResult:
    outcomes = earlier + attempt.outcomes
    warnings = (warnings or []) + _warnings(attempt.outcomes)
    if (accepted := attempt.accepted()) is not None:
        output, member = accepted
        if mode == "fallback":
            warnings.append(f"fallback: answered by the single model {member.ref.alias}")
        return PhaseResult(
            phase.name,
            output,
            mode,
            None,
            outcomes,
            clock,
            warnings=warnings,
            final_text=attempt.text,
            author=member.ref,
        )
    if clock.deadline.spent:
        raise DeadlineExceeded(
            f"phase {phase.name!r} passed its {clock.deadline.total_s:g}s deadline without a valid answer",
            hint="raise deadline_s for this phase, or retry: every model's outcome is listed",
            outcomes=outcomes,
        )
    raise AllModelsFailed(
        f"no model produced a valid {phase.name!r} output",
        hint="see each model's error; check the providers' status and credentials",
        outcomes=outcomes,
        details={"validation_errors": attempt.parsed.errors if attempt.parsed else []},
    )


def _warnings(outcomes: list[Outcome]) -> list[str]:
    """Failures worth a caller's attention: not unconfigured providers, not a lost hedge race; and
    answers that arrived but whose JSON the phase schema rejected (a silent loss otherwise)."""
    warnings = []
    for o in outcomes:
        if isinstance(o, Success):
            if o.output_errors:
                why = o.output_errors[0]
                warnings.append(f"{o.model.alias} ({o.role}) answered, but its JSON did not validate: {why}")
        elif o.status != "cancelled" and (o.status != "skipped" or o.error_kind in SKIPS_THAT_DEGRADE):
            warnings.append(f"{o.model.alias} ({o.role}) {o.status}: {o.error}")
    return warnings


def _budget_note(budget: BudgetCheck | None) -> list[str]:
    if budget is None or not budget.dropped:
        return []
    return [
        f"budget: dropped {', '.join(budget.dropped)} to stay under max_cost_usd={budget.max_cost_usd:g} "
        f"(estimate ${budget.estimated_usd:.4f})"
    ]


def _synthesis_failure(attempt: Attempt) -> str:
    if attempt.member is None:
        return "synthesis: no synthesizer was usable or every synthesizer failed"
    errors = attempt.parsed.errors[:3] if attempt.parsed else []
    return f"synthesis by {attempt.member.ref.alias} did not validate: {'; '.join(errors)}"


def _answer_of(outcomes: list[Outcome], alias: str) -> Success | None:
    return next(
        (o for o in outcomes if isinstance(o, Success) and o.model.alias == alias and o.role == "parallel"),
        None,
    )
