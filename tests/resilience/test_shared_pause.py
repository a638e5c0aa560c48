"""A provider's 429 Retry-After pauses that model for every replica sharing Redis (a real
redis-server, two apps): the other replica waits it out or fails over without calling the model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from app.main import create_app
from app.providers.errors import RateLimited
from app.resilience.pause import SharedPauses
from tests.store.conftest import RedisServer, start_redis
from tests.support import client_for, fake_providers, free_port, make_settings

URL = "/phases/kill-test/orchestrate"
IDEA = {"idea": "AI agent that audits freight invoices for small brokers"}
REASONER = "@cf/zai-org/glm-4.7-flash"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server: RedisServer = start_redis(tmp_path)
    yield server.url
    server.stop()


def record(body: dict[str, Any], model_id: str) -> dict[str, Any]:
    [found] = [m for m in body["models"] if m["model_id"] == model_id and m["role"] == "parallel"]
    return found


async def two_replicas(redis_url: str | None, *, second_cap_s: float) -> tuple[dict[str, Any], Any]:
    """Replica A is told by workers_ai to come back in 2 s (over its 1 s cap: it fails over at
    once); then replica B runs the same phase. Returns B's body and B's fakes."""
    shared: dict[str, Any] = {"store_backend": "none"}
    if redis_url is not None:
        shared["redis_url"] = SecretStr(redis_url)
    first, second = fake_providers(), fake_providers()
    limited = RateLimited("slow down", provider="workers_ai", status_code=429, retry_after_s=2.0)
    first["workers_ai"].script(REASONER, limited)
    a = create_app(make_settings(retry_after_cap_s=1.0, **shared), providers=first)
    b = create_app(make_settings(retry_after_cap_s=second_cap_s, **shared), providers=second)
    async with client_for(a) as to_a, client_for(b) as to_b:
        answered_a = await to_a.post(URL, json=IDEA)
        assert answered_a.status_code == 200, answered_a.text
        assert record(answered_a.json(), REASONER)["error_kind"] == "rate_limited"
        assert len(first["workers_ai"].calls_for(REASONER)) == 1  # 2 s is over A's cap: no retry
        answered_b = await to_b.post(URL, json=IDEA)
    assert answered_b.status_code == 200, answered_b.text
    return answered_b.json(), second


@pytest.mark.needs_redis
async def test_the_other_replica_fails_over_without_calling_a_paused_model(redis_url: str) -> None:
    body, fakes = await two_replicas(redis_url, second_cap_s=1.0)  # B will not wait 2 s either
    reasoner = record(body, REASONER)
    assert fakes["workers_ai"].calls_for(REASONER) == []  # the account was not asked again
    assert reasoner["error_kind"] == "rate_limited" and "paused" in reasoner["error"]
    assert record(body, SCOUT)["status"] == "ok"  # the pause is the model's, not the provider's
    assert len(fakes["workers_ai"].calls_for(SCOUT)) == 1


@pytest.mark.needs_redis
async def test_the_other_replica_waits_out_the_pause_then_calls_once(redis_url: str) -> None:
    body, fakes = await two_replicas(redis_url, second_cap_s=5.0)
    reasoner = record(body, REASONER)
    assert reasoner["status"] == "ok" and reasoner["attempts"] == 2  # the pause, then the call
    assert len(fakes["workers_ai"].calls_for(REASONER)) == 1


async def test_without_redis_each_replica_learns_its_own_429() -> None:
    # The contrast that shows the shared tests can fail: B calls the model at once.
    body, fakes = await two_replicas(None, second_cap_s=1.0)
    assert record(body, REASONER) | {"status": "ok", "attempts": 1} == record(body, REASONER)
    assert len(fakes["workers_ai"].calls_for(REASONER)) == 1


@pytest.mark.needs_redis
async def test_a_shorter_retry_after_never_cuts_a_pause_short(redis_url: str) -> None:
    pauses = SharedPauses(redis_url, timeout_s=5.0)
    try:
        assert await pauses.remaining_s("p/m") == 0.0
        await pauses.pause("p/m", 30.0)
        await pauses.pause("p/m", 1.0)
        assert 29.0 < await pauses.remaining_s("p/m") <= 30.0
        assert await pauses.remaining_s("p/other") == 0.0
    finally:
        await pauses.close()


async def test_an_unreachable_redis_pauses_nothing_and_raises_nothing() -> None:
    pauses = SharedPauses(f"redis://127.0.0.1:{free_port()}/0")
    try:
        await pauses.pause("p/m", 30.0)
        assert await pauses.remaining_s("p/m") == 0.0
    finally:
        await pauses.close()
