"""Provider and model budgets in one process: which budgets a model counts against, the settings'
checks, and a call that waits for room within its deadline or fails as ``call_budget_exhausted``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from app.errors import ConfigError
from app.main import create_app
from app.providers.errors import CallBudgetExhausted
from app.resilience.budgets import BudgetBook, Scope
from app.resilience.gate import BudgetGate
from app.resilience.guard import Limiter
from app.resilience.ledger import LocalLedger
from app.settings import CallBudget
from tests.support import client_for, fake_providers, make_settings

URL = "/phases/kill-test/orchestrate"
REASONER = "@cf/zai-org/glm-4.7-flash"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"


def test_a_model_counts_against_its_provider_and_its_own_budget() -> None:
    book = BudgetBook(
        {"anthropic": CallBudget(concurrency=4)},
        {"anthropic/claude-x": CallBudget(per_minute=50), "workers_ai/@cf/own": CallBudget(concurrency=2)},
    )
    assert book.scopes("anthropic", "claude-x") == (
        Scope("anthropic", 4, None),
        Scope("anthropic/claude-x", None, 50),
    )
    assert book.scopes("anthropic", "claude-y") == (Scope("anthropic", 4, None),)
    # Workers AI's documented default gives each model its own 300 a minute; an entry replaces it.
    assert book.scopes("workers_ai", "@cf/a") == (Scope("workers_ai/@cf/a", None, 300),)
    assert book.scopes("workers_ai", "@cf/own") == (Scope("workers_ai/@cf/own", 2, None),)
    assert book.scopes("minimax", "m") == ()  # nothing documented, nothing configured: unbounded


def test_an_empty_entry_turns_a_documented_default_off() -> None:
    book = BudgetBook({}, {"workers_ai/*": CallBudget()})
    assert book.scopes("workers_ai", "@cf/a") == ()


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("model_limits", {"llama-4-scout": {"per_minute": 5}}, "must be 'provider/model_id'"),
        ("model_limits", {"workers_ai/m": {"per_minut": 5}}, "per_minut"),
        ("provider_limits", {"anthropic": {"concurrency": 0}}, "concurrency"),
    ],
)
def test_a_bad_limit_setting_names_the_problem(setting: str, value: Any, named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        make_settings(**{setting: value})


async def test_an_unknown_provider_name_stops_start_up_with_the_valid_names() -> None:
    settings = make_settings(model_limits={"workersai/@cf/a": CallBudget(concurrency=2)})
    with pytest.raises(ConfigError, match="workersai") as raised:
        async with client_for(create_app(settings, providers=fake_providers())):
            pass
    assert "workers_ai" in (raised.value.hint or "")


def gate_for(scope: Scope, ledger: LocalLedger) -> BudgetGate:
    return BudgetGate(Limiter(16), ledger, provider="p", model_id="m", scopes=[scope], pauses=None)


async def test_a_spent_rate_fails_at_once_when_the_window_reopens_after_the_deadline() -> None:
    ledger = LocalLedger()
    gate = gate_for(Scope("p/m", None, 1), ledger)
    async with gate.within(30.0):
        pass
    with pytest.raises(CallBudgetExhausted, match="1 calls per minute to p/m") as raised:
        async with gate.within(30.0):  # the next call fits in ~60 s: more than this call may wait
            raise AssertionError("no call may be made")
    assert raised.value.kind == "call_budget_exhausted" and not raised.value.retryable


async def test_a_call_waits_for_a_slot_and_goes_in_when_one_frees() -> None:
    ledger = LocalLedger()
    gate = gate_for(Scope("p/m", 1, None), ledger)
    events: list[str] = []
    first_in = asyncio.Event()

    async def first() -> None:
        async with gate.within(30.0):
            events.append("first in")
            first_in.set()
            await asyncio.sleep(0.2)  # the second knocks meanwhile
            events.append("first out")

    async def second() -> None:
        await first_in.wait()
        events.append("second knocks")
        async with gate.within(30.0):
            events.append("second in")
            assert ledger.in_flight("p/m") == 1

    await asyncio.gather(first(), second())
    assert events == ["first in", "second knocks", "first out", "second in"]
    assert ledger.in_flight("p/m") == 0


async def test_a_call_gives_up_waiting_for_a_slot_at_its_deadline_and_says_so() -> None:
    ledger = LocalLedger()
    gate = gate_for(Scope("p/m", 1, None), ledger)
    async with gate.within(30.0):
        with pytest.raises(CallBudgetExhausted, match="1 calls to p/m already in flight"):
            async with gate.within(0.5):
                raise AssertionError("no call may be made")
        assert ledger.in_flight("p/m") == 1  # the holder still holds: the waiter gave up first
    assert ledger.in_flight("p/m") == 0


async def test_an_exhausted_model_budget_is_recorded_and_the_phase_goes_on() -> None:
    fakes = fake_providers()
    settings = make_settings(model_limits={f"workers_ai/{REASONER}": {"per_minute": 1}})
    body = {"idea": "AI agent that audits freight invoices", "options": {"deadline_s": 20}}
    async with client_for(create_app(settings, providers=fakes)) as client:
        first = await client.post(URL, json=body)
        second = await client.post(URL, json=body)
    assert first.status_code == second.status_code == 200, second.text
    [record] = [m for m in second.json()["models"] if m["model_id"] == REASONER and m["role"] == "parallel"]
    assert record["error_kind"] == "call_budget_exhausted" and "MODEL_LIMITS" in record["error"]
    assert len(fakes["workers_ai"].calls_for(REASONER, role="parallel")) == 1  # the second never went out
    assert len(fakes["workers_ai"].calls_for(SCOUT, role="parallel")) == 2  # other models unaffected
