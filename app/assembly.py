"""Settings and one HTTP transport in, the pipeline's parts out: providers, roster, catalog.

The service's lifespan and the evaluation command (``python -m evaluation``) both build the pipeline
this way, so the eval measures exactly the models, roster choice and resilience the service uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.errors import ConfigError
from app.phases.catalog import PhaseCatalog
from app.phases.local_roster import localize_catalog
from app.providers.base import Provider
from app.providers.registry import ProviderRegistry
from app.resilience.budgets import BudgetBook
from app.resilience.guard import Resilience
from app.resilience.pause import SharedPauses
from app.resilience.retry import RetryPolicy
from app.roster import Roster, RosterName, choose_roster
from app.settings import Settings
from app.transport import Transport


@dataclass(frozen=True, slots=True)
class Assembly:
    """What a phase needs to run: the providers, which roster answers, its catalog and members."""

    registry: ProviderRegistry
    roster_name: RosterName
    catalog: PhaseCatalog
    """The phases as they will run: localized when the local roster answers."""
    resilience: Resilience
    roster: Roster


def resilience_from(settings: Settings) -> Resilience:
    policy = RetryPolicy(
        max_attempts=settings.retry_max_attempts,
        base_s=settings.retry_base_s,
        max_backoff_s=settings.retry_max_backoff_s,
        retry_after_cap_s=settings.retry_after_cap_s,
    )
    return Resilience(
        policy=policy,
        breaker_threshold=settings.breaker_failure_threshold,
        breaker_cooldown_s=settings.breaker_cooldown_s,
        unavailable_cooldown_s=settings.breaker_unavailable_cooldown_s,
        concurrency=settings.provider_concurrency,
        default_concurrency=settings.default_provider_concurrency,
        # With Redis, a provider's 429 Retry-After pauses that model for every replica.
        pauses=(
            SharedPauses(settings.redis_url.get_secret_value(), timeout_s=settings.redis_timeout_s)
            if settings.redis_url
            else None
        ),
        # The accounts' call budgets: shared by every replica through the same Redis when it is set.
        budgets=BudgetBook(settings.provider_limits, settings.model_limits),
    )


def check_budget_names(settings: Settings, registry: ProviderRegistry) -> None:
    """A provider name that matches none would quietly limit nothing: stop start-up instead."""
    named = set(settings.provider_limits) | {key.partition("/")[0] for key in settings.model_limits}
    unknown = sorted(named - set(registry.names()))
    if unknown:
        raise ConfigError(
            f"PROVIDER_LIMITS/MODEL_LIMITS name unknown provider(s): {', '.join(unknown)}",
            hint=f"use one of: {', '.join(registry.names())}",
        )


def with_served_windows(catalog: PhaseCatalog, settings: Settings) -> PhaseCatalog:
    """The OpenAI-compatible server's context window (OPENAI_COMPAT_CONTEXT_WINDOW) on the models
    it serves that do not state one: only the operator knows what that server loaded."""
    window = settings.openai_compat.context_window
    if window is None:
        return catalog
    models = {
        alias: spec.model_copy(update={"context_window": window})
        if spec.provider == "openai_compat" and spec.context_window is None
        else spec
        for alias, spec in catalog.models.items()
    }
    return PhaseCatalog(list(catalog), models)


def assemble(
    settings: Settings,
    transport: Transport,
    catalog: PhaseCatalog,
    overrides: Mapping[str, Provider] | None = None,
) -> Assembly:
    """Bind ``catalog``'s models to providers built from ``settings`` (``overrides`` replace some)."""
    registry = ProviderRegistry.from_settings(settings, transport).with_overrides(overrides or {})
    providers = {name: registry.get(name) for name in registry.names()}
    roster_name = choose_roster(providers, settings.local_model)
    catalog = with_served_windows(catalog, settings)
    active = localize_catalog(catalog, settings.local_model) if roster_name == "local" else catalog
    check_budget_names(settings, registry)
    resilience = resilience_from(settings)
    return Assembly(registry, roster_name, active, resilience, Roster(active.models, registry, resilience))
