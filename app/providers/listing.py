"""Asking a provider which model ids it serves: the shared GET and what a listing holds.

Each adapter's ``list_models`` knows its own URL, pagination and body shape; this module does the
request itself (timeouts, transport errors translated once) so ``python -m app.models check`` can
tell a retired id from a typo before a request does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from app.providers.errors import ProviderConnectionError, ProviderTimeout

LISTING_TIMEOUT_S = 20.0
"""Per page: a listing is small, and a provider slower than this is not going to answer."""


@dataclass(frozen=True, slots=True)
class ListedModel:
    """One model id a provider says it serves."""

    id: str
    deprecation: date | None = None
    """The provider's planned retirement date, where its listing publishes one (Workers AI)."""


async def get_listing(
    client: httpx.AsyncClient,
    url: str,
    *,
    provider: str,
    headers: Mapping[str, str],
    params: Mapping[str, str | int] | None = None,
    connect_timeout_s: float = 5.0,
    timeout_s: float = LISTING_TIMEOUT_S,
) -> httpx.Response:
    """GET one page of a model listing; transport failures become ``ProviderError``s."""
    timeout = httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s))
    try:
        return await client.get(url, headers=dict(headers), params=dict(params or {}), timeout=timeout)
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(
            f"the model listing did not answer within {timeout_s:g}s ({type(exc).__name__})",
            provider=provider,
        ) from None
    except httpx.TransportError as exc:
        raise ProviderConnectionError(
            f"could not fetch the model listing ({type(exc).__name__})", provider=provider
        ) from None


def data_ids(body: Any) -> list[ListedModel]:
    """``{"data": [{"id": ...}, ...]}``: the OpenAI, MiniMax and Anthropic listing shape."""
    entries = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(entries, list):
        return []
    return [
        ListedModel(entry["id"])
        for entry in entries
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str)
    ]


def iso_date(value: Any) -> date | None:
    """A ``YYYY-MM-DD`` date (a time part is ignored), or ``None``."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None
