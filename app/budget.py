"""Keeping a phase under ``max_cost_usd``: estimate before calling, drop the priciest extras.

The estimate prices every call the strategy plans (``Strategy.planned_calls``: answers, samples,
refiner layers, rankers, the classifier, the judge) and is deliberately pessimistic: every call is
priced at its full ``max_tokens`` of output, with input from the prompt's length (about four
characters a token), and a call that reads the answers (the judge, a ranker) reads every answer at
full length. Members beyond ``min_successes`` are optional; the most expensive go first until the
estimate fits. When even the minimum does not fit, the request is refused before any money is spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.domain import Failure, Outcome
from app.errors import InvalidOptions
from app.phases.catalog import Phase
from app.phases.config import ModelCall, Price
from app.prompts import TaskPrompt
from app.roster import Roster
from app.strategies.base import Plan, PlannedCall

CHARS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    max_cost_usd: float
    estimated_usd: float
    dropped: list[str]


@dataclass(frozen=True, slots=True)
class Budgeted:
    """The budget's verdict on one request, and the records of the members it dropped."""

    check: BudgetCheck | None = None
    dropped: list[Outcome] = field(default_factory=list)

    def notes(self) -> list[str]:
        """The warning that names what was dropped, if anything was."""
        check = self.check
        if check is None or not check.dropped:
            return []
        return [
            f"budget: dropped {', '.join(check.dropped)} to stay under max_cost_usd={check.max_cost_usd:g} "
            f"(estimate ${check.estimated_usd:.4f})"
        ]


def _usd(price: Price, tokens_in: int, tokens_out: int) -> float:
    return (tokens_in * price.input + tokens_out * price.output) / 1_000_000


def estimate(roster: Roster, prompt: TaskPrompt, planned: Sequence[PlannedCall]) -> float:
    """Worst-case USD of the ``planned`` calls."""
    full = prompt.full()  # every model reading the whole context: the worst case
    prompt_tokens = (len(full.system) + len(full.user)) // CHARS_PER_TOKEN + 1
    answers = sum(c.max_tokens * c.count for c in planned if c.writes_answer)
    return sum(
        _usd(
            roster.member(c.alias).spec.price,
            prompt_tokens + (answers if c.reads_answers else 0),
            c.max_tokens,
        )
        * c.count
        for c in planned
    )


def fit(
    phase: Phase,
    roster: Roster,
    prompt: TaskPrompt,
    plan: Plan,
    members: list[ModelCall],
    max_cost_usd: float,
) -> tuple[list[ModelCall], BudgetCheck]:
    """The members that fit ``max_cost_usd`` and what was dropped; 422 if nothing fits."""
    kept = list(members)
    dropped: list[str] = []

    def cost(chosen: list[ModelCall]) -> float:
        return estimate(roster, prompt, plan.strategy.planned_calls(plan, roster, chosen))

    def price_of(call: ModelCall) -> float:
        return cost([call]) - cost([])

    while cost(kept) > max_cost_usd and len(kept) > phase.config.min_successes:
        priciest = max(kept, key=price_of)
        kept.remove(priciest)
        dropped.append(priciest.model)
    estimated = cost(kept)
    if estimated > max_cost_usd:
        raise InvalidOptions(
            f"max_cost_usd={max_cost_usd:g} is below the cheapest orchestration of phase {phase.name!r} "
            f"(about ${estimated:.4f} with {len(kept)} models and the judge, at full token limits)",
            hint="raise max_cost_usd, choose cheaper options.models, or use options.single_model",
            details={"field": "options.max_cost_usd", "minimum_estimate_usd": round(estimated, 6)},
        )
    return kept, BudgetCheck(max_cost_usd, round(estimated, 6), dropped)


def budgeted(
    phase: Phase,
    roster: Roster,
    prompt: TaskPrompt,
    plan: Plan,
    members: list[ModelCall],
    requested: float | None,
) -> tuple[list[ModelCall], Budgeted]:
    """The members the cost limit leaves (the request's, else the phase's), and what it dropped."""
    max_cost = requested or phase.config.max_cost_usd
    if max_cost is None:
        return members, Budgeted()
    members, check = fit(phase, roster, prompt, plan, members, max_cost)
    dropped: list[Outcome] = [
        Failure(
            roster.member(alias).ref,
            "parallel",
            "skipped",
            f"dropped to stay under max_cost_usd={max_cost:g}",
            error_kind="budget",
        )
        for alias in check.dropped
    ]
    return members, Budgeted(check, dropped)
