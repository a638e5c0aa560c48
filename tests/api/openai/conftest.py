"""The service on a real loopback socket against the fake upstream, for the real clients to call."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from app.main import create_app
from tests.fakes.upstream import FakeUpstream, running
from tests.support import serve, upstream_settings

# LiteLLM fetches its model price list from GitHub at import time unless told to use its bundled
# copy (its documented switch); CI must not depend on the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

IDEA = "AI agent that audits freight invoices for small brokers"


@dataclass(frozen=True)
class Stack:
    origin: str
    upstream: FakeUpstream

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"


def stack_with(upstream: FakeUpstream, **settings: Any) -> Iterator[Stack]:
    """The app (settings on top of the upstream's URLs) served on loopback while the fake runs."""
    with running(upstream), serve(create_app(upstream_settings(upstream.base_urls(), **settings))) as origin:
        yield Stack(origin, upstream)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """An open service on a healthy fake upstream, shared by a module's tests."""
    yield from stack_with(FakeUpstream(), retry_after_cap_s=1.0)


def user(text: str = IDEA) -> list[Any]:
    return [{"role": "user", "content": text}]
