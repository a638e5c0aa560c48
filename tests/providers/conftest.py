"""Adapter tests: a transport over one real ``httpx.AsyncClient`` per test, its HTTP answered by
respx; the adapters run the same code on it as on the production transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.transport import Transport
from app.upstream_http import HttpxTransport


@pytest.fixture
async def client() -> AsyncIterator[Transport]:
    transport = HttpxTransport(httpx.AsyncClient())
    yield transport
    await transport.aclose()
