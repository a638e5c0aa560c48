"""The real app on fake providers, per store backend: what the store's API tests share."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from app.domain import CompletionRequest
from app.main import create_app
from app.providers.fake import Delayed, FakeProvider, Reply
from tests.support import client_for, fake_providers, fixture_responder, make_settings

IDEA = {"idea": "AI agent that audits freight invoices for small brokers"}
URL = "/phases/kill-test/orchestrate"
MAX_AGE = {"Cache-Control": "max-age=600"}
"""Asks for a cached answer up to ten minutes old: the cache is opt-in."""


def slowly(request: CompletionRequest) -> Reply:
    return Delayed(0.2, fixture_responder(request))


def model_calls(*apps_fakes: Mapping[str, FakeProvider]) -> int:
    return sum(len(f.calls) for fakes in apps_fakes for f in fakes.values())


FAN_OUT = 5
"""The calls one run of kill-test fans out to with the shipped config (its parallel members)."""


def parallel_calls(*apps_fakes: Mapping[str, FakeProvider]) -> int:
    """The fan-out's calls, on every provider (one run of kill-test makes ``FAN_OUT``)."""
    return sum(len(f.calls_for(role="parallel")) for fakes in apps_fakes for f in fakes.values())


@asynccontextmanager
async def app_with(
    fakes: Mapping[str, FakeProvider] | None = None, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Mapping[str, FakeProvider]]]:
    fakes = fakes if fakes is not None else fake_providers()
    async with client_for(create_app(make_settings(**settings), providers=fakes)) as client:
        yield client, fakes


def unique_idea() -> dict[str, str]:
    """A body no earlier test stored (the session's Redis keeps cache entries between tests)."""
    return {"idea": f"{IDEA['idea']} ({uuid.uuid4()})"}


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"step-{uuid.uuid4()}"}
