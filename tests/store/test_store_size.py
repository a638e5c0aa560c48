"""The store's size in /metrics, and the Redis backend's bounds, on a real redis-server."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from structlog.testing import capture_logs

from app.domain import CompletionRequest
from app.main import create_app
from app.providers.fake import Delayed, Reply
from app.store.base import StoredResult, StoreLimits
from app.store.redis_store import RedisStore
from tests.store.conftest import RedisServer
from tests.support import client_for, fake_providers, fixture_responder, make_settings

IDEA = {"idea": "AI agent that audits freight invoices for small brokers"}
URL = "/phases/kill-test/orchestrate"


def gauge(metrics: str, name: str, backend: str) -> float:
    prefix = f'{name}{{backend="{backend}"}} '
    lines = [line for line in metrics.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, metrics
    return float(lines[0].removeprefix(prefix))


async def test_metrics_show_what_the_sqlite_store_holds(tmp_path: Path) -> None:
    settings = make_settings(store_backend="sqlite", store_path=tmp_path / "store.sqlite3")
    async with client_for(create_app(settings, providers=fake_providers())) as client:
        before = (await client.get("/metrics")).text
        for n in range(3):
            headers = {"Idempotency-Key": f"step-{n}"}
            assert (await client.post(URL, json=IDEA, headers=headers)).status_code == 200
        after = (await client.get("/metrics")).text
    assert gauge(before, "orchestrator_store_entries", "sqlite") == 0
    assert gauge(after, "orchestrator_store_entries", "sqlite") == 3  # three keyed results
    assert gauge(after, "orchestrator_store_bytes", "sqlite") > 3 * len(str(IDEA))


async def test_a_sqlite_entry_over_its_cap_is_answered_but_not_replayed(tmp_path: Path) -> None:
    settings = make_settings(
        store_backend="sqlite", store_path=tmp_path / "store.sqlite3", store_max_entry_bytes=200
    )
    headers = {"Idempotency-Key": "step-big"}
    async with client_for(create_app(settings, providers=fake_providers())) as client:
        with capture_logs() as logs:
            first = await client.post(URL, json=IDEA, headers=headers)
            again = await client.post(URL, json=IDEA, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "false"  # nothing kept, so it ran again
    assert any(e.get("setting") == "STORE_MAX_ENTRY_BYTES" for e in logs)


@pytest.mark.needs_redis
async def test_every_redis_key_expires_and_an_oversized_entry_is_skipped(redis_server: RedisServer) -> None:
    prefix = f"t-{uuid.uuid4().hex}:"
    store = RedisStore(
        redis_server.url, prefix=prefix, limits=StoreLimits(max_entry_bytes=500), timeout_s=5.0
    )
    raw = Redis.from_url(redis_server.url)
    try:
        await store.put("small", StoredResult("p", 200, b"a" * 100, time.time()), ttl_s=60)
        await store.put("big", StoredResult("p", 200, b"b" * 500, time.time()), ttl_s=60)
        token = await store.try_lock("small", ttl_s=30)
        assert token is not None
        keys = [k.decode() async for k in raw.scan_iter(match=f"{prefix}*")]
        ttls = {k: await raw.pttl(k) for k in keys}
    finally:
        await raw.aclose()
        await store.close()
    assert sorted(keys) == [f"{prefix}lock:small", f"{prefix}result:small"]
    assert all(ttl > 0 for ttl in ttls.values()), ttls  # no key without an expiry
    assert store.size().entries >= 1 and store.size().bytes > 0  # read with the first write


@pytest.mark.needs_redis
async def test_metrics_show_the_redis_store_size(redis_server: RedisServer) -> None:
    settings = make_settings(store_backend="redis", redis_url=SecretStr(redis_server.url))
    async with client_for(create_app(settings, providers=fake_providers())) as client:
        headers = {"Idempotency-Key": f"step-{uuid.uuid4()}"}
        assert (await client.post(URL, json=IDEA, headers=headers)).status_code == 200
        metrics = (await client.get("/metrics")).text
    assert gauge(metrics, "orchestrator_store_entries", "redis") >= 1
    assert gauge(metrics, "orchestrator_store_bytes", "redis") > 0


async def test_no_cache_runs_on_its_own_beside_a_concurrent_identical_request(tmp_path: Path) -> None:
    def slowly(request: CompletionRequest) -> Reply:
        return Delayed(0.2, fixture_responder(request))

    fakes = fake_providers(slowly)
    settings = make_settings(store_backend="sqlite", store_path=tmp_path / "s.sqlite3", cache_ttl_s=3600)
    async with client_for(create_app(settings, providers=fakes)) as client:
        alone = await client.post(URL, json={"idea": "a reference run, for its number of calls"})
        one_run = sum(len(f.calls) for f in fakes.values())
        shared, own = await asyncio.gather(
            client.post(URL, json=IDEA, headers={"Cache-Control": "max-age=600"}),
            client.post(URL, json=IDEA, headers={"Cache-Control": "no-cache"}),
        )
    assert alone.status_code == shared.status_code == own.status_code == 200
    assert shared.headers["x-cache"] == "miss" and "x-cache" not in own.headers
    assert sum(len(f.calls) for f in fakes.values()) == 3 * one_run  # two runs, not one shared
