"""Resolves the model aliases phases use into callable (provider, model id, price) triples."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from app.domain import ModelRef
from app.errors import ConfigError
from app.phases.config import ModelSpec
from app.providers.base import Provider
from app.providers.registry import CLOUD_PROVIDERS, ProviderRegistry
from app.resilience.guard import Guard, Resilience
from app.settings import LocalModelSettings

RosterName = Literal["cloud", "local"]
"""Which models answer: the configured cloud ones, or the embedded local model's roster."""


def choose_roster(providers: dict[str, Provider], settings: LocalModelSettings) -> RosterName:
    """Cloud as soon as any cloud provider is configured; else local, unless switched off."""
    if any(providers[name].available for name in CLOUD_PROVIDERS if name in providers):
        return "cloud"
    return "local" if settings.enabled else "cloud"


@dataclass(frozen=True, slots=True)
class Member:
    """A model ready to call."""

    ref: ModelRef
    spec: ModelSpec
    provider: Provider
    guard: Guard
    """Its provider's concurrency limit, its circuit breaker and the retry policy."""

    @property
    def usable(self) -> bool:
        return self.provider.available


class Roster:
    """Every configured model, bound to its provider."""

    def __init__(
        self,
        models: Mapping[str, ModelSpec],
        registry: ProviderRegistry,
        resilience: Resilience | None = None,
    ) -> None:
        self.resilience = resilience or Resilience.off()
        self._members: dict[str, Member] = {}
        for alias, spec in models.items():
            provider = registry.get(spec.provider)
            model_id = spec.model_id or provider.default_model
            if not model_id:
                raise ConfigError(
                    f"model {alias!r} names no model_id and provider {spec.provider!r} has no default"
                )
            guard = self.resilience.guard(spec.provider, model_id)
            self._members[alias] = Member(ModelRef(alias, spec.provider, model_id), spec, provider, guard)

    def members(self) -> list[Member]:
        return list(self._members.values())

    def member(self, alias: str) -> Member:
        return self._members[alias]

    def first_usable(self, aliases: Iterable[str]) -> Member | None:
        """The first alias whose provider is configured, in the given order."""
        return next((m for m in map(self.member, aliases) if m.usable), None)

    def missing_settings(self, aliases: Iterable[str]) -> list[str]:
        """Environment variables that would make any of ``aliases`` usable, deduplicated."""
        seen: dict[str, None] = {}
        for alias in aliases:
            for name in self.member(alias).provider.missing_settings:
                seen.setdefault(name)
        return list(seen)
