"""A phase's request and its result: every path of the pipeline builds its result once, here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.budget import BudgetCheck, Budgeted
from app.calls.judging import Judged
from app.calls.validated import Attempt
from app.deadline import Deadline
from app.domain import ModelRef, Outcome, Success
from app.errors import AllModelsFailed, DeadlineExceeded
from app.notices import call_warnings
from app.phases.catalog import Phase
from app.strategies.base import Decided, Plan, Proposed, Rankings, RouteDecision
from app.strategies.names import StrategyName
from app.synthesis.answers import answer_text
from app.synthesis.merge import Merged
from app.synthesis.review import Review, review
from app.synthesis.validate import annotate
from app.synthesis.votes import Tally
from app.synthesis.wild_ideas import WildIdea
from app.timing import Stopwatch

Mode = Literal["orchestrated", "single", "fallback"]


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
    merge: dict[str, str] | None = None
    """When the members' answers were merged: each combined field and how, the rest's source."""


@dataclass(slots=True)
class Record:
    """What an orchestrated phase did before its output was chosen: every call and every warning."""

    outcomes: list[Outcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    strategy: str = "single"
    judged: Judged | None = None
    decided: Decided | None = None
    proposed: Proposed | None = None
    budget: Budgeted | None = None

    @classmethod
    def of(cls, plan: Plan, proposed: Proposed, decided: Decided, budget: Budgeted) -> Record:
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
        merged: Merged | None = None,
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
            merge=merge_record(merged) if merged else None,
        )


def synthesized_result(phase: Phase, clock: Stopwatch, record: Record, judged: Judged) -> PhaseResult | None:
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


def merged_result(
    phase: Phase, clock: Stopwatch, record: Record, merged: Merged, *, fallback: bool = False
) -> PhaseResult:
    """The members' answers merged without a judge: strategy merge, or the fallback when every judge
    failed (then with a warning saying so)."""
    if fallback:
        record.warnings.append(f"fallback: merged {merged.answers} schema-valid answers without synthesis")
    central = _answer_of(record.outcomes, merged.central)
    return record.result(
        phase,
        clock,
        output=merged.output,
        mode="fallback" if fallback else "orchestrated",
        author=central.model if central else None,
        final_text=answer_text(merged.output, ""),
        merged=merged,
    )


def merge_record(merged: Merged) -> dict[str, str]:
    """Each combined field and how; every other field is the base answer's (the most central, or
    the writer's under strategy ballot)."""
    rest = "kept whole (the merge did not validate)" if merged.fell_back else "the rest"
    return {**merged.fields, "*": f"{rest}: from {merged.central}, {merged.central_is}"}


def best_answer_result(
    phase: Phase, clock: Stopwatch, record: Record, alias: str, output: dict[str, Any]
) -> PhaseResult:
    """The fallback without synthesis: a member's own schema-valid answer."""
    answer = _answer_of(record.outcomes, alias)
    record.warnings.append(f"fallback: returned {alias}'s schema-valid answer without synthesis")
    text = answer.completion.text if answer else ""
    author = answer.model if answer else None
    return record.result(phase, clock, output=output, mode="fallback", author=author, final_text=text)


def single_result(
    phase: Phase, attempt: Attempt, clock: Stopwatch, deadline: Deadline, record: Record, *, mode: Mode
) -> PhaseResult:
    """One model's validated answer (alone, or the last fallback); else why there is none."""
    outcomes = record.outcomes + attempt.outcomes
    warnings = record.warnings + call_warnings(attempt.outcomes)
    if (accepted := attempt.accepted()) is not None:
        output, member = accepted
        if mode == "fallback":
            warnings.append(f"fallback: answered by the single model {member.ref.alias}")
        single = Record(outcomes, warnings)
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
