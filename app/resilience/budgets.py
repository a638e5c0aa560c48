"""Which account budgets one model's calls count against: its provider's, and its own.

Providers limit the account, not the process, so these are the account's figures (PROVIDER_LIMITS,
MODEL_LIMITS). Documented defaults apply where the provider publishes one; everything else is
unbounded unless configured. ``provider/*`` gives each model of that provider its own budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.settings import CallBudget

DOCUMENTED_MODEL_LIMITS: dict[str, CallBudget] = {
    # Workers AI: 300 requests per minute per text-generation model by default (its limits page).
    "workers_ai/*": CallBudget(per_minute=300),
}
"""Defaults from the providers' own documentation; MODEL_LIMITS entries replace them key by key."""

WINDOW_S = 60.0
"""``per_minute`` counts the calls started in any window this long (a sliding window)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """One budget a call counts against, named by what it covers (``workers_ai``, ``workers_ai/@cf/…``)."""

    name: str
    concurrency: int | None
    per_minute: int | None


class BudgetBook:
    """The configured budgets; ``scopes(provider, model_id)`` is what one model's calls count against."""

    def __init__(self, providers: Mapping[str, CallBudget], models: Mapping[str, CallBudget]) -> None:
        self._providers = dict(providers)
        self._models = DOCUMENTED_MODEL_LIMITS | dict(models)

    def scopes(self, provider: str, model_id: str) -> tuple[Scope, ...]:
        exact = f"{provider}/{model_id}"
        own = self._models.get(exact, self._models.get(f"{provider}/*"))
        found = [(provider, self._providers.get(provider)), (exact, own)]
        return tuple(
            Scope(name, budget.concurrency, budget.per_minute)
            for name, budget in found
            if budget is not None and (budget.concurrency or budget.per_minute)
        )
