"""Scoring and aggregation on scripted answers: exact accuracy, interval, tokens and cost per item."""

from __future__ import annotations

import asyncio
import json

import pytest

from app.domain import Completion, CompletionRequest
from app.providers.errors import UpstreamServerError
from app.providers.fake import Reply
from evaluation.modes import choose, every_mode
from evaluation.runner import run_eval
from evaluation.stats import wilson
from evaluation.summary import summarise
from tests.evaluation.fakes import CALL_TOKENS, CALL_USD, ITEMS, USAGE, answering, item_of, setup

# m1 knows everything, m2 half, m3 nothing; the judge gets q1-q3 right.
RIGHT = {"m1": {"q1", "q2", "q3", "q4"}, "m2": {"q1", "q2"}, "m3": set(), "judge": {"q1", "q2", "q3"}}


async def test_accuracy_tokens_and_cost_per_mode_are_exact() -> None:
    fresh, roster, task, _ = setup(RIGHT)
    modes, _ = every_mode(task, roster)
    chosen = choose(modes, [], ["single:*", "strategy:synthesize"])
    run = await run_eval(fresh, chosen, ITEMS, concurrency=2)
    rows = {row.mode: row for row in summarise(run, [m.name for m in chosen])}

    assert [m.name for m in chosen] == ["single:m1", "single:m2", "single:m3", "strategy:synthesize"]
    assert {m: (r.correct, r.items) for m, r in rows.items()} == {
        "single:m1": (4, 4),
        "single:m2": (2, 4),
        "single:m3": (0, 4),
        "strategy:synthesize": (3, 4),  # the judge's answers, whatever the members said
    }
    assert rows["single:m2"].accuracy == 0.5
    assert rows["strategy:synthesize"].interval == wilson(3, 4)
    for mode, calls in [("single:m1", 1), ("single:m3", 1), ("strategy:synthesize", 4)]:  # 3 members + judge
        assert rows[mode].cost_per_item_usd == pytest.approx(calls * CALL_USD)
        assert rows[mode].tokens_per_item == calls * CALL_TOKENS
        assert rows[mode].tokens_in_per_item == calls * USAGE.input_tokens
    assert run.ledger.spent_usd == pytest.approx((4 * 3 + 4 * 4) * CALL_USD)
    assert all(r.failed == 0 and r.not_run == 0 for r in rows.values())


async def test_every_answer_keeps_its_raw_text_and_each_models_outcome() -> None:
    fresh, roster, task, _ = setup(RIGHT)
    modes, _ = every_mode(task, roster)
    run = await run_eval(fresh, choose(modes, [], ["strategy:synthesize"]), ITEMS[:1])
    (answer,) = run.answers
    assert answer.answer == "4" and answer.correct and answer.result_mode == "orchestrated"
    assert [(o["model"], o["role"]) for o in answer.outcomes] == [
        ("m1", "parallel"),
        ("m2", "parallel"),
        ("m3", "parallel"),
        ("judge", "synthesizer"),
    ]
    assert all('"answer"' in o["text"] and o["cost_usd"] == pytest.approx(CALL_USD) for o in answer.outcomes)


async def test_single_mode_asks_only_its_model_with_its_member_settings() -> None:
    fresh, roster, task, fake = setup(RIGHT)
    modes, _ = every_mode(task, roster)
    await run_eval(fresh, choose(modes, [], ["single:m2"]), ITEMS)
    assert {c.model for c in fake.calls} == {"m2"}
    assert {(c.temperature, c.max_tokens) for c in fake.calls} == {(0.5, 128)}


async def test_every_strategy_runs_and_vote_is_explained_not_dropped() -> None:
    fresh, roster, task, _ = setup(RIGHT)
    modes, missing = every_mode(task, roster)
    strategies = [m.name for m in modes if m.name.startswith("strategy:")]
    assert strategies == [
        f"strategy:{s}"
        for s in ("synthesize", "self_consistency", "rank", "route", "self_moa", "moa", "merge")
    ]
    assert [u.name for u in missing] == ["strategy:vote", "strategy:ballot"]
    assert all("decision field" in u.reason for u in missing)
    run = await run_eval(fresh, [m for m in modes if m.name in strategies], ITEMS[:2], concurrency=4)
    assert len(run.answers) == 2 * len(strategies)
    assert all(a.error is None and a.answer is not None for a in run.answers)


async def test_a_failed_phase_is_a_wrong_answer_with_its_error_and_cost() -> None:
    def respond(request: CompletionRequest) -> Reply:
        if request.model == "m3":
            return UpstreamServerError("down", provider="fake", status_code=500)
        return answering(RIGHT)(request)

    fresh, roster, task, _ = setup(RIGHT, responder=respond)
    modes, _ = every_mode(task, roster)
    run = await run_eval(fresh, choose(modes, [], ["single:m3", "strategy:synthesize"]), ITEMS)
    rows = {row.mode: row for row in summarise(run, ["single:m3", "strategy:synthesize"])}
    assert (rows["single:m3"].failed, rows["single:m3"].correct, rows["single:m3"].cost_usd) == (4, 0, 0.0)
    failed = run.by_mode("single:m3")[0]
    assert failed.answer is None and failed.error is not None and failed.error.startswith("all_models_failed")
    assert failed.outcomes[0]["status"] == "error"
    # Two of three members still answered: orchestration goes on and pays for what was asked.
    assert rows["strategy:synthesize"].failed == 0 and rows["strategy:synthesize"].correct == 3
    assert rows["strategy:synthesize"].cost_per_item_usd == pytest.approx(3 * CALL_USD)


async def test_the_spending_cap_stops_new_items_and_says_which() -> None:
    fresh, roster, task, _ = setup(RIGHT)
    modes, _ = every_mode(task, roster)
    chosen = choose(modes, [], ["single:m1", "single:m2"])
    # One item costs CALL_USD: after three the spend (3x) passes the cap (2.5x) and nothing else starts.
    run = await run_eval(fresh, chosen, ITEMS, concurrency=1, max_cost_usd=2.5 * CALL_USD)
    assert [a.item.id for a in run.answers] == ["q1", "q2", "q3"]
    assert run.not_run == {"single:m1": ["q4"], "single:m2": ["q1", "q2", "q3", "q4"]}
    assert run.ledger.exhausted and run.ledger.spent_usd == pytest.approx(3 * CALL_USD)
    rows = summarise(run, ["single:m1", "single:m2"])
    assert [(r.items, r.not_run) for r in rows] == [(3, 1), (0, 4)]


async def test_no_cap_runs_everything() -> None:
    fresh, roster, task, _ = setup(RIGHT)
    modes, _ = every_mode(task, roster)
    run = await run_eval(fresh, choose(modes, [], ["single:m1"]), ITEMS, max_cost_usd=None)
    assert len(run.answers) == 4 and run.not_run == {} and not run.ledger.exhausted


@pytest.mark.parametrize("limit", [1, 3])
async def test_concurrency_is_the_limit_of_items_in_flight(limit: int) -> None:
    flight = {"now": 0, "max": 0}

    async def slow(request: CompletionRequest) -> Reply:
        flight["now"] += 1
        flight["max"] = max(flight["max"], flight["now"])
        await asyncio.sleep(0.02)
        flight["now"] -= 1
        return Completion(json.dumps({"reasoning": "r", "answer": item_of(request).answer}), USAGE)

    fresh, roster, task, _ = setup(RIGHT, responder=slow)
    modes, _ = every_mode(task, roster)
    await run_eval(fresh, choose(modes, [], ["single:m1"]), ITEMS, concurrency=limit)
    assert flight["max"] == limit


async def test_progress_hears_of_every_item_run_or_not() -> None:
    fresh, roster, task, _ = setup(RIGHT)
    modes, _ = every_mode(task, roster)
    heard: list[str | None] = []
    await run_eval(
        fresh,
        choose(modes, [], ["single:m1", "single:m2"]),
        ITEMS,
        concurrency=1,
        max_cost_usd=1.5 * CALL_USD,
        on_answer=lambda a: heard.append(a.item.id if a else None),
    )
    assert heard == ["q1", "q2"] + [None] * 6


async def test_each_mode_starts_with_closed_circuits() -> None:
    def respond(request: CompletionRequest) -> Reply:
        if request.model == "m3":
            return UpstreamServerError("down", provider="fake", status_code=500)
        return answering(RIGHT)(request)

    fresh, roster, task, _ = setup(RIGHT, responder=respond, breaker_threshold=2)
    modes, _ = every_mode(task, roster)
    run = await run_eval(fresh, choose(modes, [], ["single:m3", "strategy:synthesize"]), ITEMS, concurrency=1)
    # Within a mode the service's breaker works as usual: two failures open m3's circuit ...
    assert [a.outcomes[0]["status"] for a in run.by_mode("single:m3")] == [
        "error",
        "error",
        "skipped",
        "skipped",
    ]
    # ... but the next mode asks m3 again instead of inheriting an open circuit.
    first = run.by_mode("strategy:synthesize")[0]
    assert [o["status"] for o in first.outcomes if o["model"] == "m3"] == ["error"]
