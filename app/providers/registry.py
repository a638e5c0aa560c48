"""The one place that names vendors: builds every provider adapter from the settings."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from app.providers.anthropic import AnthropicProvider
from app.providers.base import Provider
from app.providers.minimax import MiniMaxProvider
from app.providers.openai_compat import OpenAICompatProvider
from app.providers.workers_ai import WorkersAIProvider
from app.settings import LocalModelSettings, OpenAICompatSettings, Settings

CLOUD_PROVIDERS = ("workers_ai", "anthropic", "minimax", "openai_compat")
"""Providers an operator configures; any one of them set means the cloud roster is used."""
PROVIDER_NAMES = (*CLOUD_PROVIDERS, "local")


class ProviderRegistry:
    """Providers by name; tests hand in fakes under the same names."""

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = dict(providers)

    @classmethod
    def from_settings(cls, settings: Settings, client: httpx.AsyncClient) -> ProviderRegistry:
        """Every wire API this service speaks, configured from ``settings``."""
        connect = settings.connect_timeout_s
        return cls(
            {
                "workers_ai": WorkersAIProvider(settings.workers_ai, client, connect_timeout_s=connect),
                "anthropic": AnthropicProvider(settings.anthropic, client, connect_timeout_s=connect),
                "minimax": MiniMaxProvider(settings.minimax, client, connect_timeout_s=connect),
                "openai_compat": OpenAICompatProvider(
                    settings.openai_compat, client, connect_timeout_s=connect
                ),
                "local": local_provider(settings.local_model, client, connect_timeout_s=connect),
            }
        )

    def names(self) -> list[str]:
        return list(self._providers)

    def get(self, name: str) -> Provider:
        return self._providers[name]

    def with_overrides(self, overrides: Mapping[str, Provider]) -> ProviderRegistry:
        """A copy with some providers replaced (tests swap in fakes this way)."""
        return ProviderRegistry({**self._providers, **overrides})


def local_provider(
    settings: LocalModelSettings, client: httpx.AsyncClient, *, connect_timeout_s: float
) -> OpenAICompatProvider:
    """The embedded llama.cpp server, through the OpenAI-compatible adapter, never with a key."""
    # model_construct: built from LOCAL_MODEL_* only, never from the OPENAI_COMPAT_* environment.
    wire = OpenAICompatSettings.model_construct(
        base_url=settings.url if settings.enabled else None, api_key=None, model=settings.model
    )
    return OpenAICompatProvider(
        wire, client, connect_timeout_s=connect_timeout_s, name="local", url_setting="LOCAL_MODEL_URL"
    )
