"""The one place that names vendors: builds every provider adapter from the settings."""

from __future__ import annotations

from collections.abc import Mapping

from app.local_pace import LocalPace
from app.providers.anthropic import AnthropicProvider
from app.providers.base import Provider
from app.providers.minimax import MINIMAX
from app.providers.openai_chat import ChatEndpoint, OpenAIChatProvider
from app.providers.openai_compat import openai_compatible
from app.providers.workers_ai import WorkersAIProvider
from app.settings import LocalModelSettings, MiniMaxSettings, OpenAICompatSettings, Settings
from app.transport import Transport

CLOUD_PROVIDERS = ("workers_ai", "anthropic", "minimax", "openai_compat")
"""Providers an operator configures; any one of them set means the cloud roster is used."""
PROVIDER_NAMES = (*CLOUD_PROVIDERS, "local")


class ProviderRegistry:
    """Providers by name; tests hand in fakes under the same names."""

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = dict(providers)

    @classmethod
    def from_settings(cls, settings: Settings, transport: Transport) -> ProviderRegistry:
        """Every provider this service speaks to, configured from ``settings``."""
        connect = settings.connect_timeout_s
        chat = {
            endpoint.name: OpenAIChatProvider(endpoint, transport, connect_timeout_s=connect)
            for endpoint in (
                minimax_endpoint(settings.minimax),
                openai_compat_endpoint(settings.openai_compat),
                local_endpoint(settings.local_model),
            )
        }
        return cls(
            {
                "workers_ai": WorkersAIProvider(settings.workers_ai, transport, connect_timeout_s=connect),
                "anthropic": AnthropicProvider(settings.anthropic, transport, connect_timeout_s=connect),
                **chat,
            }
        )

    def names(self) -> list[str]:
        return list(self._providers)

    def get(self, name: str) -> Provider:
        return self._providers[name]

    def with_overrides(self, overrides: Mapping[str, Provider]) -> ProviderRegistry:
        """A copy with some providers replaced (tests swap in fakes this way)."""
        return ProviderRegistry({**self._providers, **overrides})


def minimax_endpoint(settings: MiniMaxSettings) -> ChatEndpoint:
    """MiniMax's OpenAI-compatible path: a key is required, the international host by default."""
    return ChatEndpoint(
        "minimax",
        settings.base_url,
        settings.api_key,
        MINIMAX,
        url_setting="MINIMAX_BASE_URL",
        key_setting="MINIMAX_API_KEY",
    )


def openai_compat_endpoint(settings: OpenAICompatSettings) -> ChatEndpoint:
    """The operator's OpenAI-compatible server; its key is optional (local servers need none)."""
    return ChatEndpoint(
        "openai_compat",
        settings.base_url,
        settings.api_key,
        openai_compatible(settings.max_tokens_field),
        url_setting="OPENAI_COMPAT_BASE_URL",
        default_model=settings.model,
    )


def local_endpoint(settings: LocalModelSettings) -> ChatEndpoint:
    """The embedded llama.cpp server, built from LOCAL_MODEL_* only, never with a key."""
    return ChatEndpoint(
        "local",
        settings.url if settings.enabled else None,
        None,
        openai_compatible(),
        url_setting="LOCAL_MODEL_URL",
        default_model=settings.model,
        pace=LocalPace(slots=settings.slots, ttl_s=settings.pace_ttl_s),
    )
