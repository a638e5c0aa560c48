"""Runs (``Prefer: respond-async``): 202 at once, then poll, stream, resume and cancel, through the
real app on fake providers (over real sockets where a hang-up or a live stream matters)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.domain import CompletionRequest
from app.main import create_app
from app.providers.fake import Delayed, Reply, info
from tests.store.keyed_apps import FAN_OUT, IDEA, URL, key, parallel_calls
from tests.support import fake_app, fake_providers, fixture_responder, make_settings, serve

ASYNC = {"Prefer": "respond-async"}
KEYS = SecretStr("first-key-123,second-key-456")
FIRST, SECOND = ({"Authorization": f"Bearer {k}"} for k in ("first-key-123", "second-key-456"))


def slow_fan_out(request: CompletionRequest) -> Reply:
    answer = fixture_responder(request)
    return Delayed(0.3, answer) if info(request).role == "parallel" else answer


def hanging(cancelled: list[str]) -> Callable[[CompletionRequest], Any]:
    """A fan-out that never answers and records each call that was cancelled."""

    async def respond(request: CompletionRequest) -> Reply:
        if info(request).role != "parallel":
            return fixture_responder(request)
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(info(request).alias)
            raise
        raise AssertionError("never answered")

    return respond


async def until(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    give_up = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < give_up, "the condition never held"
        await asyncio.sleep(0.02)


async def finished(client: httpx.AsyncClient, location: str, **kw: Any) -> httpx.Response:
    """Poll ``location`` until the run has ended."""
    give_up = time.monotonic() + 15
    while True:
        polled = await client.get(location, **kw)
        if polled.headers.get("run-state") in {"succeeded", "failed", "cancelled"}:
            return polled
        assert polled.status_code == 200 and polled.json()["state"] in {"queued", "running"}
        assert time.monotonic() < give_up, "the run never ended"
        await asyncio.sleep(0.05)


def sse(text: str) -> list[tuple[int, str]]:
    """The (id, event) pairs of a server-sent event stream (pings carry no id)."""
    found, ident, name = [], None, None
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("id:"):
            ident = int(line[3:].strip())
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif not line and ident is not None and name is not None:
            found.append((ident, name))
            ident = name = None
    return found


async def test_202_at_once_then_polling_reaches_the_synchronous_status_and_body() -> None:
    async with fake_app(fake_providers(slow_fan_out)) as (client, fakes):
        started = await client.post(URL, json=IDEA, headers=ASYNC)
        assert started.status_code == 202, started.text
        run = started.json()
        assert run["state"] in {"queued", "running"} and len(run["id"]) >= 32
        assert started.headers["location"] == f"/runs/{run['id']}" == run["location"]
        assert started.headers["preference-applied"] == "respond-async"
        assert parallel_calls(fakes) <= FAN_OUT  # answered before the fan-out finished

        done = await finished(client, started.headers["location"])
        synchronous = await client.post(URL, json=IDEA)
    assert done.headers["run-state"] == "succeeded"
    assert done.status_code == synchronous.status_code == 200
    ran, sync = done.json(), synchronous.json()
    assert ran.keys() == sync.keys()
    assert ran["output"] == sync["output"] and ran["mode"] == sync["mode"]
    assert parallel_calls(fakes) == 2 * FAN_OUT


async def test_a_failed_run_answers_the_synchronous_error_status_and_body() -> None:
    async with fake_app(fake_providers(lambda _: RuntimeError("down"))) as (client, _):
        started = await client.post(URL, json=IDEA, headers=ASYNC)
        done = await finished(client, started.headers["location"])
        synchronous = await client.post(URL, json=IDEA)
    assert done.headers["run-state"] == "failed"
    assert done.status_code == synchronous.status_code >= 500
    assert done.json()["error"]["code"] == synchronous.json()["error"]["code"]


async def test_a_client_that_hangs_up_after_the_202_does_not_stop_the_run() -> None:
    fakes = fake_providers(slow_fan_out)
    with serve(create_app(make_settings(), providers=fakes)) as origin:
        async with httpx.AsyncClient(base_url=origin) as leaving:
            started = await leaving.post(URL, json=IDEA, headers=ASYNC)
        assert started.status_code == 202  # and that client is gone
        async with httpx.AsyncClient(base_url=origin) as later:
            done = await finished(later, started.headers["location"])
    assert done.status_code == 200 and done.headers["run-state"] == "succeeded"
    assert parallel_calls(fakes) == FAN_OUT


async def test_events_resume_after_last_event_id_without_duplicates() -> None:
    fakes = fake_providers(slow_fan_out)
    with serve(create_app(make_settings(), providers=fakes)) as origin:
        async with httpx.AsyncClient(base_url=origin, timeout=15) as client:
            started = await client.post(URL, json=IDEA, headers=ASYNC)
            events = f"{started.headers['location']}/events"
            seen: list[tuple[int, str]] = []
            async with client.stream("GET", events) as live:  # leaves after two events, mid-run
                text = ""
                async for chunk in live.aiter_text():
                    text += chunk
                    if len(seen := sse(text)) >= 2:
                        break
            assert (await client.get(started.headers["location"])).headers["run-state"] == "running"
            seen = seen[:2]
            rest = sse((await client.get(events, headers={"Last-Event-ID": str(seen[-1][0])})).text)
            whole = sse((await client.get(events)).text)
    assert [i for i, _ in seen + rest] == list(range(1, len(whole) + 1))
    assert seen + rest == whole
    names = [name for _, name in whole]
    assert names[0] == "phase_started" and names[-1] == "result"
    assert names.count("model_started") >= FAN_OUT


async def test_delete_cancels_the_run_and_its_upstream_calls() -> None:
    cancelled: list[str] = []
    async with fake_app(fake_providers(hanging(cancelled))) as (client, fakes):
        started = await client.post(URL, json=IDEA, headers=ASYNC)
        location = started.headers["location"]
        await until(lambda: parallel_calls(fakes) == FAN_OUT)
        deleted = await client.delete(location)
        assert deleted.status_code == 200 and deleted.json()["state"] == "cancelled"
        await until(lambda: len(cancelled) == FAN_OUT)
        done = await finished(client, location)
        again = await client.delete(location)
        events = sse((await client.get(f"{location}/events")).text)
    assert done.status_code == 200 and done.json()["state"] == "cancelled"
    assert again.status_code == 409 and again.json()["error"]["code"] == "run_finished"
    assert events[-1][1] == "cancelled"
    assert parallel_calls(fakes) == FAN_OUT
    assert sum(len(f.calls_for(role="synthesizer")) for f in fakes.values()) == 0


async def test_an_unknown_run_is_a_404_that_says_where_ids_come_from() -> None:
    async with fake_app() as (client, _):
        for answer in (
            await client.get("/runs/nope"),
            await client.get("/runs/nope/events"),
            await client.delete("/runs/nope"),
        ):
            assert answer.status_code == 404
            error = answer.json()["error"]
            assert error["code"] == "run_not_found" and "Prefer: respond-async" in error["hint"]


async def test_with_api_keys_another_caller_cannot_see_or_cancel_a_run() -> None:
    async with fake_app(fake_providers(slow_fan_out), api_keys=KEYS) as (client, _):
        started = await client.post(URL, json=IDEA, headers={**ASYNC, **FIRST})
        location = started.headers["location"]
        assert (await client.get(location, headers=SECOND)).status_code == 404
        assert (await client.delete(location, headers=SECOND)).status_code == 404
        done = await finished(client, location, headers=FIRST)
        assert done.status_code == 200
        assert (await client.get(location, headers=SECOND)).status_code == 404  # stored, still theirs
        assert (await client.get(f"{location}/events", headers=SECOND)).status_code == 404


async def test_the_same_idempotency_key_attaches_to_the_same_run() -> None:
    async with fake_app(fake_providers(slow_fan_out)) as (client, fakes):
        headers = {**ASYNC, **key()}
        first = await client.post(URL, json=IDEA, headers=headers)
        second = await client.post(URL, json=IDEA, headers=headers)
        assert second.status_code == 202
        assert second.headers["location"] == first.headers["location"]
        done = await finished(client, first.headers["location"])
        later = await client.post(URL, json=IDEA, headers=headers)  # ended: a run replaying it
        replayed = await finished(client, later.headers["location"])
    assert done.status_code == replayed.status_code == 200
    assert replayed.content == done.content
    assert parallel_calls(fakes) == FAN_OUT


async def test_over_max_live_runs_answers_503_with_retry_after() -> None:
    cancelled: list[str] = []
    async with fake_app(fake_providers(hanging(cancelled)), max_live_runs=1) as (client, _):
        first = await client.post(URL, json=IDEA, headers=ASYNC)
        full = await client.post(URL, json=IDEA, headers=ASYNC)
        assert first.status_code == 202
        assert full.status_code == 503 and int(full.headers["retry-after"]) > 0
        assert full.json()["error"]["code"] == "too_many_runs"
        await client.delete(first.headers["location"])
        await finished(client, first.headers["location"])
        assert (await client.post(URL, json=IDEA, headers=ASYNC)).status_code == 202  # room again


async def test_the_same_key_with_another_body_is_a_run_that_answers_409() -> None:
    async with fake_app(fake_providers(slow_fan_out)) as (client, _):
        headers = {**ASYNC, **key()}
        first = await client.post(URL, json=IDEA, headers=headers)
        other = await client.post(URL, json={"idea": "something else entirely"}, headers=headers)
        assert other.headers["location"] != first.headers["location"]
        conflict = await finished(client, other.headers["location"])
        assert (await finished(client, first.headers["location"])).status_code == 200
    assert conflict.status_code == 409 and conflict.headers["run-state"] == "failed"
    assert conflict.json()["error"]["code"] == "idempotency_key_conflict"


@pytest.mark.parametrize(
    "responder", [fixture_responder, lambda _: RuntimeError("down")], ids=["ok", "failed"]
)
async def test_the_synchronous_call_is_a_run_that_get_runs_answers_with_the_same_bytes(
    responder: Callable[[CompletionRequest], Reply], tmp_path: Path
) -> None:
    store = {"store_backend": "sqlite", "store_path": tmp_path / "store.sqlite3"}
    async with fake_app(fake_providers(responder), **store) as (client, _):
        synchronous = await client.post(URL, json=IDEA)
        run_id = synchronous.headers["run-id"]
        polled = await client.get(f"/runs/{run_id}")
        events = await client.get(f"/runs/{run_id}/events")
    assert polled.status_code == synchronous.status_code
    assert polled.content == synchronous.content
    assert polled.headers["run-state"] == ("succeeded" if synchronous.status_code == 200 else "failed")
    assert ("event: result" if synchronous.status_code == 200 else "event: error") in events.text
