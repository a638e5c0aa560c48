"""Runs that outlive their connection: hang-ups, retries, crashed holders and deadlines, through
the real app (over real sockets where a hang-up matters) on the SQLite file and a real Redis."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.api.remember import OPEN_SCOPE, fingerprint, storage_key
from app.api.schemas import OrchestrateRequest
from app.domain import CompletionRequest
from app.main import create_app, store_from
from app.providers.errors import BadRequest
from app.providers.fake import Delayed, FakeProvider, Reply, info
from app.store.base import ResultStore, StoredResult
from app.store.replay import LEASE_S
from tests.store.keyed_apps import (
    FAN_OUT,
    IDEA,
    MAX_AGE,
    URL,
    app_with,
    key,
    model_calls,
    parallel_calls,
    unique_idea,
)
from tests.support import fake_providers, fixture_responder, free_port, make_settings, serve

HANG_UP_S = 0.3
"""The impatient client's read timeout: well inside one run (the fan-out alone takes RUN_S)."""
RUN_S = 1.0


def slow_fan_out(request: CompletionRequest) -> Reply:
    answer = fixture_responder(request)
    return Delayed(RUN_S, answer) if info(request).role == "parallel" else answer


def judge_calls(fakes: Mapping[str, FakeProvider]) -> int:
    return sum(len(f.calls_for(role="synthesizer")) for f in fakes.values())


@contextmanager
def served(fakes: Mapping[str, FakeProvider], **settings: Any) -> Iterator[str]:
    """The app under uvicorn, so a client's hang-up reaches it as a real disconnect."""
    with serve(create_app(make_settings(**settings), providers=fakes)) as origin:
        yield origin


async def hang_up(
    client: httpx.AsyncClient, headers: Mapping[str, str], body: Mapping[str, str] = IDEA
) -> None:
    """A caller whose own timeout ends its request mid-run (it closes the connection)."""
    with pytest.raises(httpx.ReadTimeout):
        await client.post(URL, json=body, headers=headers, timeout=HANG_UP_S)


async def until(condition: Any, timeout_s: float = 15.0) -> None:
    give_up = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < give_up, "the condition never held"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("sharing", ["key", "cache"])
async def test_two_coalesced_callers_where_the_first_hangs_up_both_get_the_answer(
    store: dict[str, Any], sharing: str
) -> None:
    fakes = fake_providers(slow_fan_out)
    idea, headers = unique_idea(), key() if sharing == "key" else MAX_AGE
    with served(fakes, cache_ttl_s=60, **store) as origin:
        async with httpx.AsyncClient(base_url=origin, timeout=30) as client:
            first = asyncio.create_task(hang_up(client, headers, idea))
            await until(lambda: parallel_calls(fakes) > 0)  # the first caller's run is under way
            second = await client.post(URL, json=idea, headers=headers)
            await first
            again = await client.post(URL, json=idea, headers=headers)
    assert second.status_code == 200, second.text  # not the first caller's 499
    assert again.status_code == 200 and again.json()["output"] == second.json()["output"]
    assert parallel_calls(fakes) == FAN_OUT and judge_calls(fakes) == 1  # one fan-out for all of it
    assert int(second.headers["waited-ms"]) > 0  # it waited on the first caller's run


async def test_a_disconnect_then_a_retry_with_the_same_key_costs_one_fan_out(store: dict[str, Any]) -> None:
    fakes, headers = fake_providers(slow_fan_out), key()
    with served(fakes, **store) as origin:
        async with httpx.AsyncClient(base_url=origin, timeout=30) as client:
            await hang_up(client, headers)  # the workflow's fetch timed out
            retry = await client.post(URL, json=IDEA, headers=headers)
            await until(lambda: judge_calls(fakes) == 1)
            later = await client.post(URL, json=IDEA, headers=headers)
    assert retry.status_code == later.status_code == 200
    assert later.headers["idempotent-replayed"] == "true" and later.content == retry.content
    assert parallel_calls(fakes) == FAN_OUT and judge_calls(fakes) == 1


async def test_a_keyed_run_nobody_waits_for_still_finishes_and_is_kept(store: dict[str, Any]) -> None:
    fakes, headers = fake_providers(slow_fan_out), key()
    with served(fakes, **store) as origin:
        async with httpx.AsyncClient(base_url=origin, timeout=30) as client:
            await hang_up(client, headers)
            await until(lambda: judge_calls(fakes) == 1)  # finished with no one connected
            await asyncio.sleep(0.3)  # and stored
            replay = await client.post(URL, json=IDEA, headers=headers)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert parallel_calls(fakes) == FAN_OUT


async def test_a_shared_unkeyed_run_stops_when_its_last_caller_hangs_up(tmp_path: Path) -> None:
    fakes, idea = fake_providers(slow_fan_out), unique_idea()
    settings = {"store_backend": "sqlite", "store_path": tmp_path / "s.sqlite3", "cache_ttl_s": 60}
    with served(fakes, **settings) as origin:
        async with httpx.AsyncClient(base_url=origin) as client:
            first = asyncio.create_task(hang_up(client, MAX_AGE, idea))
            await until(lambda: parallel_calls(fakes) > 0)
            await hang_up(client, MAX_AGE, idea)  # joins the first's run, then leaves too
            await first
            await asyncio.sleep(RUN_S + 0.5)  # when the fan-out would have answered
    assert parallel_calls(fakes) == FAN_OUT
    assert judge_calls(fakes) == 0  # cancelled before the judge: nobody was left to answer


async def test_a_degraded_answer_under_a_key_is_replayed_byte_for_byte(store: dict[str, Any]) -> None:
    fakes = fake_providers()
    fakes["minimax"] = FakeProvider(
        "minimax", responder=lambda r: BadRequest("no", provider="minimax", status_code=400)
    )
    headers = key()
    async with app_with(fakes, retry_max_attempts=1, cache_ttl_s=60, **store) as (client, _):
        first = await client.post(URL, json=IDEA, headers=headers)
        calls = model_calls(fakes)
        again = await client.post(URL, json=IDEA, headers=headers)
    assert first.status_code == 200 and first.json()["degraded"] is True
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content
    assert model_calls(fakes) == calls  # no new upstream call


async def test_another_callers_key_does_not_collide(store: dict[str, Any]) -> None:
    a, b, c = ({"Authorization": f"Bearer caller-{n}-secret"} for n in "abc")
    headers = key()
    settings = {**store, "api_keys": SecretStr("caller-a-secret,caller-b-secret,caller-c-secret")}
    async with app_with(**settings) as (client, fakes):
        mine = await client.post(URL, json=IDEA, headers={**a, **headers})
        one_run = model_calls(fakes)
        same_body = await client.post(URL, json=IDEA, headers={**b, **headers})
        other_body = await client.post(URL, json={"idea": "a bakery app"}, headers={**c, **headers})
        replay = await client.post(URL, json=IDEA, headers={**a, **headers})
    assert same_body.status_code == 200 and same_body.headers["idempotent-replayed"] == "false"
    assert same_body.json()["request_id"] != mine.json()["request_id"]  # B's own run, not A's result
    assert other_body.status_code == 200  # not A's 409
    assert replay.headers["idempotent-replayed"] == "true" and replay.content == mine.content
    assert model_calls(fakes) == 3 * one_run
    if store["store_backend"] == "sqlite":
        assert b"caller-a-secret" not in store["store_path"].read_bytes()  # stored under a hash


async def hold_lock(settings: dict[str, Any], storage: str, lease_s: float) -> ResultStore:
    """A lock left behind as if by a process that then died (nothing will renew or release it)."""
    dead = store_from(make_settings(**settings))
    assert dead is not None and await dead.try_lock(storage, lease_s) is not None
    return dead


async def test_a_resend_after_a_crash_answers_within_its_own_deadline(store: dict[str, Any]) -> None:
    headers = key()
    # The crashed holder's lease has 1.5 s left: the resend waits that out, then runs itself.
    dead = await hold_lock(store, storage_key(OPEN_SCOPE, headers["Idempotency-Key"]), 1.5)
    body = {**IDEA, "options": {"deadline_s": 20}}
    async with app_with(**store) as (client, fakes):
        started = time.monotonic()
        resend = await client.post(URL, json=body, headers=headers)
        elapsed = time.monotonic() - started
    await dead.close()
    assert resend.status_code == 200, resend.text
    assert elapsed < 20  # its own deadline bounds the wait and the run together
    waited_ms = resend.json()["timings"]["waited_ms"]
    assert waited_ms >= 1000 and int(resend.headers["waited-ms"]) >= waited_ms
    assert parallel_calls(fakes) == FAN_OUT


async def test_a_waiter_never_waits_past_its_own_deadline(store: dict[str, Any]) -> None:
    headers = key()
    # Another replica holds the key and keeps running (its lease outlasts this request).
    storage = storage_key(OPEN_SCOPE, headers["Idempotency-Key"])
    alive = await hold_lock(store, storage, 600)
    body = {**IDEA, "options": {"deadline_s": 1}}
    parsed = OrchestrateRequest.model_validate(body)
    async with app_with(**store) as (client, fakes):
        started = time.monotonic()
        response = await client.post(URL, json=body, headers=headers)
        elapsed = time.monotonic() - started
        # The other replica finishes: a later retry with the key gets its result.
        await alive.put(
            storage, StoredResult(fingerprint("kill-test", parsed), 200, b'{"theirs":1}', time.time()), 60
        )
        later = await client.post(URL, json=body, headers=headers)
    await alive.close()
    assert later.status_code == 200 and later.content == b'{"theirs":1}'
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["code"] == "joined_run_still_running" and "still going" in error["message"]
    assert "Idempotency-Key" in error["hint"] and error["details"]["waited_ms"] >= 1000
    assert elapsed < 10 and model_calls(fakes) == 0  # it ran nothing of its own


async def test_no_cache_never_shares_a_concurrent_identical_run(store: dict[str, Any]) -> None:
    fakes, idea = fake_providers(slow_fan_out), unique_idea()
    async with app_with(fakes, cache_ttl_s=60, **store) as (client, _):
        asking = asyncio.create_task(client.post(URL, json=idea, headers=MAX_AGE))
        await until(lambda: parallel_calls(fakes) > 0)
        sharing = asyncio.create_task(client.post(URL, json=idea, headers=MAX_AGE))
        own = await client.post(URL, json=idea, headers={"Cache-Control": "no-cache"})
        first, joined = await asyncio.gather(asking, sharing)
    assert own.status_code == first.status_code == joined.status_code == 200
    assert own.json()["cached"] is False and "x-cache" not in own.headers
    assert joined.headers["x-cache"] == "hit"  # max-age shares the run under way
    assert parallel_calls(fakes) == 2 * FAN_OUT  # two fan-outs: the shared one and no-cache's own


@contextmanager
def crashing_replica(store: dict[str, Any]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Another replica in a process of its own, on the same store; the test kills it."""
    port = free_port()
    where = (
        f"sqlite:{store['store_path']}"
        if store["store_backend"] == "sqlite"
        else store["redis_url"].get_secret_value()
    )
    process = subprocess.Popen(  # noqa: S603 (this interpreter, a module of the tests)
        [sys.executable, "-m", "tests.store.crashing_replica", str(port), where],
        cwd=Path(__file__).parents[2],
        stdout=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.kill()
        process.wait(timeout=10)


async def test_a_resend_after_a_real_crash_answers_within_its_own_deadline(store: dict[str, Any]) -> None:
    headers = key()
    storage = storage_key(OPEN_SCOPE, headers["Idempotency-Key"])
    observer = store_from(make_settings(**store))
    assert observer is not None
    with crashing_replica(store) as (origin, process):
        async with httpx.AsyncClient(base_url=origin) as client:
            await until(lambda: process.poll() is None and _answers(origin), timeout_s=30)
            started = asyncio.create_task(client.post(URL, json=IDEA, headers=headers, timeout=60))
            for _ in range(300):  # its run holds the key's lock
                if await observer.locked(storage):
                    break
                await asyncio.sleep(0.05)
            assert await observer.locked(storage)
            process.kill()  # kill -9, mid-run: nothing releases the lock
            with pytest.raises(httpx.TransportError):
                await started
    body = {**IDEA, "options": {"deadline_s": 20}}
    async with app_with(**store) as (client, fakes):
        resend = await client.post(URL, json=body, headers=headers)
    await observer.close()
    assert resend.status_code == 200, resend.text
    timings = resend.json()["timings"]
    # It waited for the dead holder's lease to lapse (seconds), not its deadline + 10 s, and the
    # wait and the run together stayed inside the resend's own deadline.
    assert 0 < timings["waited_ms"] <= LEASE_S * 1000 + 5000
    assert timings["waited_ms"] + timings["total_ms"] < 20_000
    assert parallel_calls(fakes) == FAN_OUT


def _answers(origin: str) -> bool:
    try:
        return httpx.get(f"{origin}/healthz", timeout=0.5).status_code == 200
    except httpx.TransportError:
        return False
