"""Watching it work: SSE progress, Prometheus metrics, cost arithmetic and budgets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.domain import Completion, CompletionRequest, Usage
from app.main import create_app
from app.providers.errors import Overloaded
from app.providers.fake import FakeProvider, Reply
from tests.fakes.upstream import FakeUpstream, running
from tests.fakes.upstream import Reply as Wire
from tests.support import fake_app, fake_providers, fixture_responder, make_settings, serve, upstream_settings

IDEA = {"idea": "AI agent that audits freight invoices for small brokers"}
URL = "/phases/kill-test/orchestrate"
QWEN3 = "@cf/qwen/qwen3-30b-a3b-fp8"
REASONER = "@cf/zai-org/glm-4.7-flash"


def read_events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    event = None
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:") and event is not None:
            yield event, json.loads(line.removeprefix("data:").strip())
            event = None


def test_a_stream_narrates_the_run_in_order_and_ends_with_the_result() -> None:
    app = create_app(make_settings(), providers=fake_providers())
    with serve(app) as origin:
        headers = {"Accept": "text/event-stream"}
        with httpx.stream("POST", origin + URL, json=IDEA, headers=headers, timeout=30) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = list(read_events(response))
        plain = httpx.post(origin + URL, json=IDEA, timeout=30).json()
    names = [name for name, _ in events]
    assert names[0] == "phase_started" and names[-1] == "result"
    assert events[0][1]["models"] == ["reasoner", "llama-scout", "qwen3", "minimax", "openai-compat"]
    started = [d["model"] for n, d in events if n == "model_started" and d["role"] == "parallel"]
    finished = {d["model"]: d for n, d in events if n == "model_finished" and d["role"] == "parallel"}
    assert sorted(started) == sorted(finished) == sorted(events[0][1]["models"])
    assert all(d["status"] == "ok" and d["tokens_out"] > 0 for d in finished.values())
    synthesis = names.index("synthesis_started")
    assert synthesis > max(
        i for i, (n, d) in enumerate(events) if n == "model_finished" and d["role"] == "parallel"
    )
    assert names.index("model_finished", synthesis) < len(names) - 1  # the judge's call, then the result
    result = events[-1][1]
    assert set(result) == set(plain) and result["mode"] == "orchestrated"
    assert result["usage"]["cost_usd"] > 0


def test_a_stream_error_has_the_error_shape() -> None:
    app = create_app(
        make_settings(),
        providers=fake_providers(unavailable=("workers_ai", "anthropic", "minimax", "openai_compat")),
    )
    with (
        serve(app) as origin,
        httpx.stream(
            "POST", origin + URL, json=IDEA, headers={"Accept": "text/event-stream"}, timeout=30
        ) as response,
    ):
        events = list(read_events(response))
    assert [n for n, _ in events] == ["error"]
    assert events[0][1]["error"]["code"] == "no_usable_provider"


def test_closing_a_stream_stops_every_upstream_call() -> None:
    upstream = FakeUpstream()
    with running(upstream):
        for model in (REASONER, QWEN3, "MiniMax-M2.7"):
            upstream.script(model, Wire(hang=True))
        with serve(create_app(upstream_settings(upstream.base_urls()))) as origin:
            with httpx.stream(
                "POST", origin + URL, json=IDEA, headers={"Accept": "text/event-stream"}, timeout=30
            ) as response:
                for name, _ in read_events(response):
                    if name == "model_finished":  # the fast members are done; three still hang
                        break
            assert upstream.wait_idle(3.0), f"{upstream.in_flight} upstream calls outlived the stream"
            hung = [c for c in upstream.calls if c.model in (REASONER, QWEN3, "MiniMax-M2.7")]
            assert len(hung) == 3 and all(c.ended == "disconnected" for c in hung)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        sample, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in sample for k, v in labels.items()):
            return float(value)
    return 0.0


async def test_metrics_count_known_traffic_exactly() -> None:
    fakes = fake_providers()
    fakes["workers_ai"].script(QWEN3, Overloaded("busy", provider="workers_ai"))  # one retry
    async with fake_app(fakes, cache_ttl_s=60) as (client, _):
        first = (await client.post(URL, json=IDEA, headers={"Cache-Control": "max-age=60"})).json()
        await client.post(URL, json=IDEA, headers={"Cache-Control": "max-age=60"})  # from the cache
        await client.post("/phases/nope/orchestrate", json=IDEA)
        text = (await client.get("/metrics")).text
    assert (
        metric(text, "orchestrator_requests_total", phase="kill-test", mode="orchestrated", status="200") == 1
    )
    assert metric(text, "orchestrator_requests_total", phase="kill-test", mode="replayed", status="200") == 1
    assert metric(text, "orchestrator_cache_total", result="miss") == 1
    assert metric(text, "orchestrator_cache_total", result="hit") == 1
    assert metric(text, "orchestrator_retries_total", provider="workers_ai", model=QWEN3) == 1
    assert (
        metric(text, "orchestrator_model_errors_total", provider="workers_ai", model=QWEN3) == 0
    )  # it recovered
    for record in first["models"]:
        tokens = metric(
            text,
            "orchestrator_tokens_total",
            provider=record["provider"],
            model=record["model_id"],
            direction="input",
        )
        assert tokens == record["tokens_in"], record["model"]
    total_cost = sum(
        metric(text, "orchestrator_cost_usd_total", provider=m["provider"], model=m["model_id"])
        for m in first["models"]
    )
    assert total_cost == pytest.approx(first["usage"]["cost_usd"], rel=1e-6)
    assert (
        metric(
            text, "orchestrator_model_latency_seconds_count", provider="anthropic", model="claude-sonnet-5-5"
        )
        == 1
    )
    assert metric(text, "orchestrator_circuit_state", provider="workers_ai", model=QWEN3) == 0


def known_usage(request: CompletionRequest) -> Reply:
    text = fixture_responder(request)
    assert isinstance(text, str)
    return Completion(text=text, usage=Usage(1000, 500))


async def test_cost_is_price_times_usage_per_model_and_in_total() -> None:
    async with fake_app(fake_providers(known_usage)) as (client, _):
        body = (await client.post(URL, json=IDEA)).json()
    reasoner = next(m for m in body["models"] if m["model"] == "reasoner")
    assert reasoner["cost_usd"] == pytest.approx((1000 * 0.0605 + 500 * 0.40) / 1e6)
    claude = next(m for m in body["models"] if m["model"] == "claude-sonnet")
    assert claude["cost_usd"] == pytest.approx((1000 * 2.00 + 500 * 10.00) / 1e6)
    local = next(m for m in body["models"] if m["model"] == "openai-compat")
    assert local["cost_usd"] == 0  # no price configured: counted as free, and said so in the config
    assert body["usage"]["cost_usd"] == pytest.approx(sum(m["cost_usd"] for m in body["models"]), abs=1e-8)
    assert body["usage"]["tokens_in"] == 1000 * len(body["models"])


async def test_usage_a_provider_did_not_report_is_marked_estimated() -> None:
    def unreported(request: CompletionRequest) -> Reply:
        text = fixture_responder(request)
        assert isinstance(text, str)
        return Completion(text=text, usage=Usage(len(text) // 4, 10, estimated=True))

    fakes = fake_providers()
    fakes["minimax"] = FakeProvider("minimax", responder=unreported)
    async with fake_app(fakes) as (client, _):
        body = (await client.post(URL, json=IDEA)).json()
    minimax = next(m for m in body["models"] if m["model"] == "minimax")
    assert minimax["tokens_estimated"] is True and body["usage"]["estimated"] is True
    assert next(m for m in body["models"] if m["model"] == "reasoner")["tokens_estimated"] is False


async def test_a_budget_drops_the_priciest_optional_models_first() -> None:
    async with fake_app() as (client, fakes):
        full = (await client.post(URL, json={**IDEA, "options": {"max_cost_usd": 100}})).json()
        estimate = full["budget"]["estimated_usd"]
        before = len(fakes["workers_ai"].calls_for(REASONER))
        tight = (await client.post(URL, json={**IDEA, "options": {"max_cost_usd": estimate * 0.8}})).json()
        after = len(fakes["workers_ai"].calls_for(REASONER))
    assert full["budget"]["dropped"] == []
    dropped = tight["budget"]["dropped"]
    assert dropped and tight["budget"]["estimated_usd"] <= estimate * 0.8
    assert dropped[0] == "reasoner"  # the priciest parallel model at full token limits
    skipped = {m["model"]: m for m in tight["models"] if m["role"] == "parallel" and m["status"] == "skipped"}
    assert set(skipped) == set(dropped) and "max_cost_usd" in skipped["reasoner"]["error"]
    assert any("budget: dropped reasoner" in w for w in tight["warnings"])
    assert after == before  # a dropped model is never called


async def test_a_budget_below_the_minimum_is_a_422_naming_the_estimate() -> None:
    async with fake_app() as (client, fakes):
        response = await client.post(URL, json={**IDEA, "options": {"max_cost_usd": 0.000001}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert (
        error["details"]["field"] == "options.max_cost_usd" and error["details"]["minimum_estimate_usd"] > 0
    )
    assert all(not f.calls for f in fakes.values())  # refused before any money was spent
