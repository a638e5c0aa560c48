"""Resilience through the real app: quorum, hedged synthesis, circuits, deadlines, disconnects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.domain import CompletionRequest
from app.main import create_app
from app.providers.errors import Overloaded
from app.providers.fake import Delayed, FakeProvider, Reply, info
from tests.fakes.upstream import FakeUpstream, running
from tests.fakes.upstream import Reply as Wire
from tests.support import fake_app, fake_providers, fixture_responder, serve, upstream_settings

QWEN3 = "@cf/qwen/qwen3-30b-a3b-fp8"
CLAUDE = "claude-sonnet-5-5"
IDEA = {"idea": "AI agent that audits freight invoices for small brokers"}


def slow(model: str, seconds: float, *, judge: bool = False) -> Callable[[CompletionRequest], Reply]:
    """Fixture answers, except ``model`` (as a parallel member, or as judge) takes ``seconds``."""

    role = "synthesizer" if judge else "parallel"

    def respond(request: CompletionRequest) -> Reply:
        answer = fixture_responder(request)
        if request.model == model and info(request).role == role:
            return Delayed(seconds, answer)
        return answer

    return respond


def records(body: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    return {m["model"]: m for m in body["models"] if m["role"] == role}


async def test_a_quorum_does_not_wait_for_a_hung_model() -> None:
    async with fake_app(fake_providers(slow(QWEN3, 30))) as (client, _):
        started = time.monotonic()
        response = await client.post(
            "/phases/kill-test/orchestrate",
            json={**IDEA, "options": {"quorum": 4, "quorum_grace_s": 0.2}},
        )
        elapsed = time.monotonic() - started
    body = response.json()
    assert response.status_code == 200, body
    assert elapsed < 15  # the hung model's 30 s never mattered
    late = records(body, "parallel")["qwen3"]
    assert late["status"] == "late" and "grace" in late["error"]
    assert body["degraded"] is True and any("qwen3" in w for w in body["warnings"])
    assert body["mode"] == "orchestrated"


async def test_an_impossible_quorum_is_a_422_naming_the_bounds() -> None:
    async with fake_app() as (client, _):
        response = await client.post("/phases/kill-test/orchestrate", json={**IDEA, "options": {"quorum": 9}})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "options.quorum"


def hedged_config(tmp_path: Path, after_s: float) -> Path:
    path = tmp_path / "phases.toml"
    path.write_text(f"[phases.kill-test.synthesis]\nhedge_after_s = {after_s}\n")
    return path


async def test_a_slow_synthesizer_is_hedged_and_the_loser_cancelled(tmp_path: Path) -> None:
    fakes = fake_providers(slow(CLAUDE, 30, judge=True))
    async with fake_app(fakes, phases_config_file=hedged_config(tmp_path, 0.2)) as (client, _):
        started = time.monotonic()
        response = await client.post("/phases/kill-test/orchestrate", json=IDEA)
        elapsed = time.monotonic() - started
    body = response.json()
    assert response.status_code == 200, body
    assert elapsed < 15  # the slow judge's 30 s never mattered
    assert body["synthesizer"]["model"] == "minimax"  # the first backup won the race
    judges = [m for m in body["models"] if m["role"] == "synthesizer"]
    assert {(m["model"], m["status"]) for m in judges} == {("minimax", "ok"), ("claude-sonnet", "cancelled")}
    assert body["degraded"] is False  # losing a hedge race is not a failure


async def test_a_fast_synthesizer_is_not_hedged(tmp_path: Path) -> None:
    async with fake_app(phases_config_file=hedged_config(tmp_path, 5)) as (client, fakes):
        response = await client.post("/phases/kill-test/orchestrate", json=IDEA)
    assert response.json()["synthesizer"]["model"] == "claude-sonnet"
    assert fakes["minimax"].calls_for(role="parallel") and not fakes["minimax"].calls_for(role="synthesizer")


async def test_an_open_circuit_skips_the_model_and_shows_in_providers() -> None:
    failing = fake_providers()
    failing["workers_ai"] = FakeProvider(
        "workers_ai",
        responder=lambda r: (
            Overloaded("busy", provider="workers_ai") if r.model == QWEN3 else fixture_responder(r)
        ),
    )
    settings = {"breaker_failure_threshold": 2, "retry_max_attempts": 1}
    async with fake_app(failing, **settings) as (client, fakes):
        for _ in range(2):
            first = (await client.post("/phases/kill-test/orchestrate", json=IDEA)).json()
            assert records(first, "parallel")["qwen3"]["status"] == "error"
        third = (await client.post("/phases/kill-test/orchestrate", json=IDEA)).json()
        providers = (await client.get("/providers")).json()
    skipped = records(third, "parallel")["qwen3"]
    assert skipped["status"] == "skipped" and skipped["error_kind"] == "circuit_open"
    assert skipped["attempts"] == 0 and "circuit open" in skipped["error"]
    assert len(fakes["workers_ai"].calls_for(QWEN3)) == 2  # the third request never called it
    assert any("circuit open" in w for w in third["warnings"])
    workers = next(p for p in providers["providers"] if p["name"] == "workers_ai")
    qwen = next(m for m in workers["models"] if m["model_id"] == QWEN3)
    assert qwen["circuit"]["state"] == "open" and qwen["aliases"] == ["qwen3"]
    assert qwen["recent_errors"] == {"overloaded": 2} and qwen["failures"] == 2
    assert "key" not in str(providers).lower()


async def test_a_retried_model_says_how_many_attempts_it_took() -> None:
    fakes = fake_providers()
    fakes["workers_ai"].script(QWEN3, Overloaded("busy", provider="workers_ai"))
    async with fake_app(fakes) as (client, _):
        body = (await client.post("/phases/kill-test/orchestrate", json=IDEA)).json()
    qwen = records(body, "parallel")["qwen3"]
    assert qwen["status"] == "ok" and qwen["attempts"] == 2
    assert body["degraded"] is False


async def test_the_request_deadline_bounds_everything() -> None:
    everything_hangs = fake_providers(lambda r: Delayed(30, fixture_responder(r)))
    async with fake_app(everything_hangs) as (client, _):
        started = time.monotonic()
        response = await client.post(
            "/phases/kill-test/orchestrate", json={**IDEA, "options": {"deadline_s": 1.0}}
        )
        elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert 0.9 < elapsed < 15  # at the 1 s deadline, not when the 30 s answers come
    error = response.json()["error"]
    assert error["code"] == "deadline_exceeded" and "1s deadline" in error["message"]


def test_a_client_that_hangs_up_cancels_every_upstream_call() -> None:
    upstream = FakeUpstream()
    with running(upstream):
        for model in ("@cf/zai-org/glm-4.7-flash", QWEN3, "MiniMax-M2.7"):
            upstream.script(model, Wire(hang=True))
        with serve(create_app(upstream_settings(upstream.base_urls()))) as origin:
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(f"{origin}/phases/kill-test/orchestrate", json=IDEA, timeout=1.0)
            assert upstream.wait_idle(3.0), f"{upstream.in_flight} upstream calls outlived the client"
            hung = [c for c in upstream.calls if c.model in (QWEN3, "MiniMax-M2.7")]
            assert hung and all(c.ended == "disconnected" for c in hung)
            calls = len(upstream.calls)
            time.sleep(0.5)
            assert len(upstream.calls) == calls  # nothing started after the client left


async def test_concurrency_is_limited_per_provider() -> None:
    in_flight = 0
    peak = 0

    async def respond(request: CompletionRequest) -> Reply:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return fixture_responder(request)

    fakes = fake_providers()
    fakes["workers_ai"] = FakeProvider("workers_ai", responder=respond)
    async with fake_app(fakes, provider_concurrency={"workers_ai": 1}) as (client, _):
        await asyncio.gather(*(client.post("/phases/kill-test/orchestrate", json=IDEA) for _ in range(3)))
        providers = (await client.get("/providers")).json()["providers"]
    assert peak == 1
    workers = next(p for p in providers if p["name"] == "workers_ai")
    assert workers["concurrency_limit"] == 1 and workers["in_flight"] == 0


async def test_a_hung_wild_ideas_model_does_not_hold_a_finished_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("app.calls.judging.WILD_IDEAS_GRACE_S", 0.3)

    def respond(request: CompletionRequest) -> Reply:
        if info(request).role == "wild_ideas":
            return Delayed(30, "[]")
        return fixture_responder(request)

    async with fake_app(fake_providers(respond)) as (client, _):
        started = time.monotonic()
        response = await client.post("/phases/kill-test/orchestrate", json=IDEA)
        elapsed = time.monotonic() - started
    body = response.json()
    assert response.status_code == 200 and elapsed < 15  # the grace, not the 30 s wild-ideas call
    [wild] = [m for m in body["models"] if m["role"] == "wild_ideas"]
    assert wild["status"] == "late" and "cancelled" in wild["error"]
