"""Fan-out: concurrent calls, per-model timeouts, the deadline, and failures as values."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.calls.fanout import fan_out
from app.calls.guarded import Call, cost_usd
from app.deadline import Deadline
from app.domain import Completion, CompletionRequest, Failure, ModelRef, Prompt, Success, Usage
from app.phases.config import ModelSpec, Price
from app.providers.errors import Overloaded
from app.providers.fake import Delayed, FakeProvider, Reply
from app.resilience.guard import Resilience
from app.roster import Member


def call(
    provider: FakeProvider,
    model: str,
    *,
    timeout_s: float = 5.0,
    price: Price | None = None,
    resilience: Resilience | None = None,
) -> Call:
    spec = ModelSpec(provider=provider.name, model_id=model, price=price or Price())
    request = CompletionRequest(model=model, prompt=Prompt("s", "u"), max_tokens=64, timeout_s=timeout_s)
    guard = (resilience or Resilience.off()).guard(provider.name, model)
    return Call(
        Member(ModelRef(model, provider.name, model), spec, provider, guard),
        request,
        "parallel",
        "test-phase",
    )


def run(calls: list[Call], deadline_s: float = 10.0) -> list[object]:
    return list(asyncio.run(fan_out(calls, deadline=Deadline(deadline_s))))


def test_calls_run_concurrently_and_keep_their_order() -> None:
    started: list[str] = []
    all_started = asyncio.Event()

    async def respond(request: CompletionRequest) -> Reply:
        # Each call answers only once all four are in flight: calls made one after another would
        # wait here until their 5 s timeout and fail.
        started.append(request.model)
        if len(started) == 4:
            all_started.set()
        await all_started.wait()
        return f"answer of {request.model}"

    fake = FakeProvider(responder=respond)
    outcomes = run([call(fake, name) for name in ("d", "c", "b", "a")])
    assert [o.completion.text for o in outcomes if isinstance(o, Success)] == [
        "answer of d", "answer of c", "answer of b", "answer of a",
    ]  # fmt: skip


def test_one_failure_or_timeout_does_not_touch_the_others() -> None:
    def respond(request: CompletionRequest) -> Reply:
        return {
            "slow": Delayed(10, "late"),
            "broken": Overloaded("overloaded_error: try later", provider="fake", status_code=529),
            "crash": KeyError("choices"),
        }.get(request.model, "fine")

    fake = FakeProvider(responder=respond)
    outcomes = run([call(fake, m, timeout_s=0.2) for m in ("ok1", "slow", "broken", "crash", "ok2")])
    by_model = {o.model.alias: o for o in outcomes if isinstance(o, Success | Failure)}
    assert isinstance(by_model["ok1"], Success) and isinstance(by_model["ok2"], Success)
    slow, broken, crash = by_model["slow"], by_model["broken"], by_model["crash"]
    assert isinstance(slow, Failure) and slow.status == "timeout" and "model timeout" in slow.error
    assert isinstance(broken, Failure) and broken.status == "error" and broken.error_kind == "overloaded"
    assert "529" in broken.error and "try later" in broken.error
    assert isinstance(crash, Failure) and crash.error_kind == "internal" and "KeyError" in crash.error


def test_the_deadline_cuts_every_call() -> None:
    fake = FakeProvider(responder=lambda r: Delayed(10, "late"))
    started = time.monotonic()
    outcomes = run([call(fake, m) for m in ("a", "b")], deadline_s=0.2)
    assert time.monotonic() - started < 5  # at the 0.2 s deadline, not the calls' 10 s
    assert all(isinstance(o, Failure) and "phase deadline" in o.error for o in outcomes)


def test_unavailable_providers_are_skipped_without_a_call() -> None:
    fake = FakeProvider("nokey", available=False, missing_settings=("NOKEY_API_KEY",))
    [outcome] = run([call(fake, "m")])
    assert isinstance(outcome, Failure) and outcome.status == "skipped"
    assert "NOKEY_API_KEY" in outcome.error
    assert fake.calls == []


@pytest.mark.parametrize(("tokens_in", "tokens_out", "expected"), [(1_000_000, 0, 3.0), (2000, 1000, 0.021)])
def test_cost_follows_the_price_table(tokens_in: int, tokens_out: int, expected: float) -> None:
    fake = FakeProvider(responder=lambda r: Completion("x", Usage(tokens_in, tokens_out)))
    planned = call(fake, "m", price=Price(input=3.0, output=15.0))
    [outcome] = run([planned])
    assert isinstance(outcome, Success)
    assert outcome.cost_usd == pytest.approx(expected)
    assert cost_usd(planned.member, Usage(tokens_in, tokens_out)) == pytest.approx(expected)
