"""Idempotency, single-flight and the cache, on the SQLite file and on a real Redis."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from app.providers.errors import UpstreamServerError
from app.providers.fake import FakeProvider
from tests.store.conftest import RedisServer
from tests.store.keyed_apps import IDEA, MAX_AGE, URL, app_with, key, model_calls, slowly
from tests.support import fake_providers

MINIMAX = "MiniMax-M2.7"


async def test_a_repeated_key_replays_without_calling_a_model(store: dict[str, Any]) -> None:
    headers = key()
    async with app_with(**store) as (client, fakes):
        first = await client.post(URL, json=IDEA, headers=headers)
        calls = model_calls(fakes)
        again = await client.post(URL, json=IDEA, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.headers["idempotent-replayed"] == "false"
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert model_calls(fakes) == calls > 0


async def test_the_key_with_another_body_is_a_409(store: dict[str, Any]) -> None:
    headers = key()
    async with app_with(**store) as (client, _):
        await client.post(URL, json=IDEA, headers=headers)
        other = await client.post(URL, json={"idea": "something else"}, headers=headers)
    assert other.status_code == 409
    error = other.json()["error"]
    assert error["code"] == "idempotency_key_conflict" and headers["Idempotency-Key"] in error["message"]


async def test_fifty_concurrent_requests_share_one_fan_out(store: dict[str, Any]) -> None:
    headers = key()
    async with app_with(fake_providers(slowly), **store) as (client, fakes):
        responses = await asyncio.gather(*(client.post(URL, json=IDEA, headers=headers) for _ in range(50)))
        reference = await client.post(URL, json=IDEA)  # cache off: one more full run, for scale
    bodies = {r.content for r in responses}
    assert {r.status_code for r in responses} == {200} and len(bodies) == 1
    one_run = len(fakes["workers_ai"].calls) // 2  # the reference run made as many calls again
    assert len(fakes["workers_ai"].calls) == 2 * one_run and one_run >= 3
    assert reference.status_code == 200


async def test_two_replicas_sharing_redis_run_a_key_once(redis_server: RedisServer) -> None:
    settings = {"store_backend": "redis", "redis_url": SecretStr(redis_server.url)}
    headers = key()
    async with AsyncExitStack() as stack:
        a, fakes_a = await stack.enter_async_context(app_with(fake_providers(slowly), **settings))
        b, fakes_b = await stack.enter_async_context(app_with(fake_providers(slowly), **settings))
        responses = await asyncio.gather(
            *(client.post(URL, json=IDEA, headers=headers) for client in [a, b] * 25)
        )
    assert {r.status_code for r in responses} == {200} and len({r.content for r in responses}) == 1
    parallel_calls = [
        c for fakes in (fakes_a, fakes_b) for c in fakes["workers_ai"].calls_for(role="parallel")
    ]
    assert len(parallel_calls) == 3  # reasoner, llama-scout, qwen3: once, on one replica only


async def test_a_result_survives_a_restart_on_the_sqlite_file(tmp_path: Path) -> None:
    settings = {"store_backend": "sqlite", "store_path": tmp_path / "store.sqlite3"}
    headers = key()
    async with app_with(**settings) as (client, _):
        first = await client.post(URL, json=IDEA, headers=headers)
    async with app_with(**settings) as (client, fakes):  # a new process, same file
        again = await client.post(URL, json=IDEA, headers=headers)
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert model_calls(fakes) == 0


async def test_failed_runs_are_not_stored(store: dict[str, Any]) -> None:
    broken = fake_providers(lambda r: UpstreamServerError("down", provider="x", status_code=500))
    headers = key()
    async with app_with(broken, retry_max_attempts=1, **store) as (client, fakes):
        first = await client.post(URL, json=IDEA, headers=headers)
        calls = model_calls(fakes)
        again = await client.post(URL, json=IDEA, headers=headers)
    assert first.status_code == again.status_code == 502
    assert model_calls(fakes) == 2 * calls  # the retry of a failure runs again


async def test_without_asking_for_the_cache_every_request_runs(store: dict[str, Any]) -> None:
    async with app_with(cache_ttl_s=60, **store) as (client, fakes):
        first = await client.post(URL, json=IDEA)
        calls = model_calls(fakes)
        again = await client.post(URL, json=IDEA)
    assert model_calls(fakes) == 2 * calls > 0  # a workflow re-running a phase gets a new answer
    assert first.json()["cached"] is again.json()["cached"] is False
    assert "x-cache" not in first.headers and "x-cache" not in again.headers


async def test_max_age_answers_from_the_cache(store: dict[str, Any]) -> None:
    async with app_with(cache_ttl_s=60, **store) as (client, fakes):
        first = await client.post(URL, json=IDEA)  # asks for nothing, but its result is kept
        calls = model_calls(fakes)
        cached = await client.post(URL, json=IDEA, headers=MAX_AGE)
        assert model_calls(fakes) == calls
        fresh = await client.post(URL, json=IDEA, headers={"Cache-Control": "no-cache"})
        assert model_calls(fakes) == 2 * calls
        too_old = await client.post(URL, json=IDEA, headers={"Cache-Control": "max-age=0"})
        assert model_calls(fakes) == 3 * calls
        other = await client.post(URL, json={**IDEA, "instructions": "shorter"}, headers=MAX_AGE)
        assert model_calls(fakes) == 4 * calls
    assert first.json()["cached"] is False
    assert cached.json()["cached"] is True and cached.headers["x-cache"] == "hit"
    assert int(cached.headers["age"]) >= 0
    assert cached.json()["output"] == first.json()["output"]
    assert fresh.json()["cached"] is False
    assert too_old.json()["cached"] is False and too_old.headers["x-cache"] == "miss"
    assert other.json()["cached"] is False and other.headers["x-cache"] == "miss"


async def test_the_cache_is_each_callers_own(store: dict[str, Any]) -> None:
    a, b = ({"Authorization": f"Bearer caller-{n}-secret"} for n in "ab")
    settings = {**store, "cache_ttl_s": 60, "api_keys": SecretStr("caller-a-secret,caller-b-secret")}
    async with app_with(**settings) as (client, fakes):
        first = await client.post(URL, json=IDEA, headers=a)
        calls = model_calls(fakes)
        mine = await client.post(URL, json=IDEA, headers={**a, **MAX_AGE})
        assert model_calls(fakes) == calls
        theirs = await client.post(URL, json=IDEA, headers={**b, **MAX_AGE})
        assert model_calls(fakes) == 2 * calls  # B runs its own phase: A's answer is A's
    assert mine.headers["x-cache"] == "hit" and theirs.headers["x-cache"] == "miss"
    assert theirs.json()["request_id"] != first.json()["request_id"]


async def test_cache_default_on_answers_from_the_cache_unasked(tmp_path: Path) -> None:
    settings = {"store_path": tmp_path / "s.sqlite3", "cache_ttl_s": 60, "cache_default": True}
    async with app_with(**settings) as (client, fakes):
        first = await client.post(URL, json=IDEA)
        calls = model_calls(fakes)
        cached = await client.post(URL, json=IDEA)
        assert model_calls(fakes) == calls
        fresh = await client.post(URL, json=IDEA, headers={"Cache-Control": "no-cache"})
        assert model_calls(fakes) == 2 * calls
    assert first.headers["x-cache"] == "miss" and cached.headers["x-cache"] == "hit"
    assert cached.json()["cached"] is True and fresh.json()["cached"] is False


async def test_degraded_answers_are_not_cached(tmp_path: Path) -> None:
    fakes = fake_providers()
    fakes["minimax"] = FakeProvider(
        "minimax", responder=lambda r: UpstreamServerError("down", provider="minimax")
    )
    settings = {"store_path": tmp_path / "s.sqlite3", "cache_ttl_s": 60, "retry_max_attempts": 1}
    async with app_with(fakes, **settings) as (client, _):
        first = await client.post(URL, json=IDEA, headers=MAX_AGE)
        second = await client.post(URL, json=IDEA, headers=MAX_AGE)
    assert first.json()["degraded"] is True
    assert second.json()["cached"] is False and second.headers["x-cache"] == "miss"


async def test_an_open_circuit_degrades_the_answer_and_keeps_it_out_of_the_cache(tmp_path: Path) -> None:
    fakes = fake_providers()
    fakes["minimax"].script(MINIMAX, UpstreamServerError("down", provider="minimax", status_code=500))
    settings = {
        "store_path": tmp_path / "s.sqlite3",
        "cache_ttl_s": 60,
        "retry_max_attempts": 1,
        "breaker_failure_threshold": 1,
        "breaker_cooldown_s": 600,
    }
    async with app_with(fakes, **settings) as (client, _):
        failed = (await client.post(URL, json=IDEA, headers=MAX_AGE)).json()  # opens the circuit
        skipped = await client.post(URL, json=IDEA, headers=MAX_AGE)
        calls = model_calls(fakes)
        again = await client.post(URL, json=IDEA, headers=MAX_AGE)
    assert failed["degraded"] is True
    body = skipped.json()
    [record] = [m for m in body["models"] if m["model"] == "minimax" and m["role"] == "parallel"]
    assert record["status"] == "skipped" and record["error_kind"] == "circuit_open"
    assert body["mode"] == "orchestrated" and body["degraded"] is True
    assert any("circuit open" in w for w in body["warnings"])
    assert again.json()["cached"] is False and again.headers["x-cache"] == "miss"
    assert model_calls(fakes) > calls  # it ran again
    assert len(fakes["minimax"].calls_for(MINIMAX)) == 1  # only the call that opened the circuit


@pytest.mark.parametrize("value", ["max-age=soon", "max-age=-5", "max-age="])
async def test_a_bad_max_age_is_a_422(tmp_path: Path, value: str) -> None:
    async with app_with(store_path=tmp_path / "s.sqlite3", cache_ttl_s=60) as (client, fakes):
        response = await client.post(URL, json=IDEA, headers={"Cache-Control": value})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "header.Cache-Control"
    assert model_calls(fakes) == 0


async def test_a_bad_key_is_a_422(tmp_path: Path) -> None:
    async with app_with(store_path=tmp_path / "s.sqlite3") as (client, _):
        response = await client.post(URL, json=IDEA, headers={"Idempotency-Key": "k" * 300})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "header.Idempotency-Key"


@pytest.mark.needs_redis
async def test_redis_going_away_degrades_and_never_fails(own_redis: RedisServer) -> None:
    settings = {"store_backend": "redis", "redis_url": SecretStr(own_redis.url)}
    async with app_with(**settings) as (client, _):
        assert (await client.get("/readyz")).json()["store"] == {
            "backend": "redis",
            "ok": True,
            "detail": None,
        }
        own_redis.stop()
        headers = key()
        first = await client.post(URL, json=IDEA, headers=headers)
        again = await client.post(URL, json=IDEA, headers=headers)
        ready = await client.get("/readyz")
    assert first.status_code == again.status_code == 200  # answered without the store
    assert again.headers["idempotent-replayed"] == "false"  # nothing could be kept
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "degraded" and body["store"]["ok"] is False
    assert "redis" in body["store"]["detail"] and "without the result store" in body["reason"]


async def test_a_cache_hit_sends_the_stored_bytes_unchanged(tmp_path: Path) -> None:
    async with app_with(store_path=tmp_path / "s.sqlite3", cache_ttl_s=60) as (client, _):
        first = await client.post(URL, json=IDEA)  # kept for a later caller who asks
        hit = await client.post(URL, json=IDEA, headers=MAX_AGE)
        again = await client.post(URL, json=IDEA, headers=MAX_AGE)
    assert hit.headers["x-cache"] == again.headers["x-cache"] == "hit"
    # Byte for byte the run's own rendering with the flag set: nothing parsed and re-encoded.
    assert hit.content == again.content == first.content.replace(b'"cached":false', b'"cached":true', 1)
