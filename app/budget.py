"""Keeping a phase under ``max_cost_usd``: estimate before calling, drop the priciest extras.

The estimate is deliberately pessimistic: every call is priced at its full ``max_tokens`` of
output, with input from the prompt's length (about four characters a token), and the judge is
priced reading every answer at full length. Members beyond ``min_successes`` are optional; the
most expensive go first until the estimate fits. When even the minimum does not fit, the
request is refused before any money is spent.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import InvalidOptions
from app.phases.catalog import Phase
from app.phases.config import ModelCall, Price
from app.prompts import TaskPrompt
from app.roster import Roster

CHARS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    max_cost_usd: float
    estimated_usd: float
    dropped: list[str]


def _usd(price: Price, tokens_in: int, tokens_out: int) -> float:
    return (tokens_in * price.input + tokens_out * price.output) / 1_000_000


def estimate(
    phase: Phase, roster: Roster, prompt: TaskPrompt, members: list[ModelCall], *, calls_per_member: int = 1
) -> float:
    """Worst-case USD for ``members`` plus the judge."""
    full = prompt.full()  # every model reading the whole context: the worst case
    prompt_tokens = (len(full.system) + len(full.user)) // CHARS_PER_TOKEN + 1
    total = sum(
        _usd(roster.member(m.model).spec.price, prompt_tokens, m.max_tokens) * calls_per_member
        for m in members
    )
    synth = phase.config.synthesis
    judge = roster.first_usable(synth.models)
    if judge is not None:
        reading = prompt_tokens + sum(m.max_tokens for m in members) * calls_per_member
        total += _usd(judge.spec.price, reading, synth.max_tokens)
    return total


def fit(
    phase: Phase,
    roster: Roster,
    prompt: TaskPrompt,
    members: list[ModelCall],
    max_cost_usd: float,
    *,
    calls_per_member: int = 1,
) -> tuple[list[ModelCall], BudgetCheck]:
    """The members that fit ``max_cost_usd`` and what was dropped; 422 if nothing fits."""
    kept = list(members)
    dropped: list[str] = []

    def cost(chosen: list[ModelCall]) -> float:
        return estimate(phase, roster, prompt, chosen, calls_per_member=calls_per_member)

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
