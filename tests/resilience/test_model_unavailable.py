"""A model its provider no longer serves: the circuit opens at once, and /providers and /readyz say so."""

from __future__ import annotations

from typing import Any

from app.api.availability import any_model_served
from app.phases.config import ModelSpec
from app.providers.errors import ModelUnavailable, RateLimited
from app.providers.fake import FakeProvider
from app.providers.registry import ProviderRegistry
from app.resilience.breaker import CircuitBreaker
from app.resilience.guard import Resilience
from app.resilience.retry import RetryPolicy
from app.roster import Roster
from tests.resilience.test_breaker import Clock
from tests.support import fake_app

QWEN3 = "@cf/qwen/qwen3-30b-a3b-fp8"
IDEA = {"idea": "AI agent that audits freight invoices for small brokers"}
URL = "/phases/kill-test/orchestrate"


def retired(model: str) -> ModelUnavailable:
    return ModelUnavailable(
        f"No such model {model} or task", provider="workers_ai", status_code=400, code="5007"
    )


def test_a_trip_opens_at_once_for_the_long_cooldown_and_a_success_clears_it() -> None:
    clock = Clock()
    b = CircuitBreaker(threshold=5, cooldown_s=30, unavailable_cooldown_s=3600, clock=clock)
    b.trip("no such model")
    assert b.state == "open" and not b.allow()
    assert b.retry_in_s() == 3600 and b.unavailable == "no such model"
    assert "does not serve it (no such model)" in b.why_open()
    clock.now += 30
    assert b.state == "open"  # the ordinary cooldown does not apply
    clock.now += 3570
    assert b.state == "half_open" and b.allow()  # one probe, in case the provider brought it back
    b.success()
    assert b.state == "closed" and b.unavailable is None


def test_a_failed_probe_after_a_trip_falls_back_to_the_ordinary_cooldown() -> None:
    clock = Clock()
    b = CircuitBreaker(threshold=5, cooldown_s=30, unavailable_cooldown_s=3600, clock=clock)
    b.trip("no such model")
    clock.now += 3600
    assert b.allow()
    b.failure()  # a timeout this time: says nothing new about the model's existence
    assert b.state == "open" and b.retry_in_s() == 30
    assert b.unavailable == "no such model"  # still not shown to be served


def test_without_an_unavailable_cooldown_a_trip_is_an_ordinary_failure() -> None:
    b = CircuitBreaker(threshold=2, cooldown_s=30, clock=Clock())
    b.trip("no such model")
    assert b.state == "closed" and b.unavailable is None and b.consecutive_failures == 1


async def test_the_first_no_such_model_answer_opens_the_circuit_and_the_model_is_skipped() -> None:
    async with fake_app() as (client, fakes):
        workers = fakes["workers_ai"]
        workers.script(QWEN3, retired(QWEN3), retired(QWEN3))
        first = (await client.post(URL, json=IDEA)).json()
        second = (await client.post(URL, json=IDEA)).json()
        providers = (await client.get("/providers")).json()
        ready = await client.get("/readyz")

    failed = next(m for m in first["models"] if m["model"] == "qwen3")
    assert failed["status"] == "error" and failed["error_kind"] == "model_unavailable"
    assert failed["attempts"] == 1  # never retried
    skipped = next(m for m in second["models"] if m["model"] == "qwen3")
    assert skipped["status"] == "skipped" and skipped["error_kind"] == "circuit_open"
    assert "does not serve it" in skipped["error"] and "No such model" in skipped["error"]
    assert len(workers.calls_for(QWEN3)) == 1  # one 400, then no more calls (the threshold is 5)
    assert second["mode"] == "orchestrated"  # the other models carry the phase

    workers_ai = next(p for p in providers["providers"] if p["name"] == "workers_ai")
    qwen3 = next(m for m in workers_ai["models"] if m["model_id"] == QWEN3)
    assert qwen3["circuit"]["state"] == "open" and qwen3["circuit"]["retry_in_s"] > 3000
    assert "No such model" in qwen3["circuit"]["unavailable"]
    others = [m for m in workers_ai["models"] if m["model_id"] != QWEN3]
    assert others and all(m["circuit"]["unavailable"] is None for m in others)

    body: dict[str, Any] = ready.json()
    assert ready.status_code == 200 and body["status"] == "degraded"
    assert [(m["model"], m["model_id"], m["provider"]) for m in body["unavailable_models"]] == [
        ("qwen3", QWEN3, "workers_ai")
    ]
    assert "No such model" in body["unavailable_models"][0]["error"]
    assert "qwen3" in body["reason"] and "python -m app.models check" in body["reason"]


async def test_other_failures_still_need_the_threshold() -> None:
    limited = RateLimited("slow down", provider="workers_ai", status_code=429)
    async with fake_app(retry_max_attempts=1) as (client, fakes):
        fakes["workers_ai"].script(QWEN3, limited)
        await client.post(URL, json=IDEA)
        ready = (await client.get("/readyz")).json()
        providers = (await client.get("/providers")).json()
    workers_ai = next(p for p in providers["providers"] if p["name"] == "workers_ai")
    qwen3 = next(m for m in workers_ai["models"] if m["model_id"] == QWEN3)
    assert qwen3["circuit"]["state"] == "closed" and qwen3["circuit"]["unavailable"] is None
    assert ready["status"] == "ready" and ready["unavailable_models"] == []


def test_readiness_fails_only_when_no_served_model_is_left() -> None:
    resilience = Resilience(
        policy=RetryPolicy.never(), breaker_threshold=5, breaker_cooldown_s=30, unavailable_cooldown_s=3600
    )
    registry = ProviderRegistry(
        {"a": FakeProvider("a"), "b": FakeProvider("b"), "off": FakeProvider("off", available=False)}
    )
    models = {
        "one": ModelSpec(provider="a", model_id="m1"),
        "two": ModelSpec(provider="b", model_id="m2"),
        "three": ModelSpec(provider="off", model_id="m3"),  # not configured: never counts as served
    }
    roster = Roster(models, registry, resilience)
    resilience.guard("a", "m1").breaker.trip("gone")
    assert any_model_served(roster)
    resilience.guard("b", "m2").breaker.trip("gone")
    assert not any_model_served(roster)
