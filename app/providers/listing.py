"""What a provider's model listing holds, so ``python -m app.models check`` can tell a retired id
from a typo before a request does.

Each adapter's ``list_models`` knows its own URL, pagination and body shape; the GET itself is the
adapter base's (``app.providers.http``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True, slots=True)
class ListedModel:
    """One model id a provider says it serves."""

    id: str
    deprecation: date | None = None
    """The provider's planned retirement date, where its listing publishes one (Workers AI)."""


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
