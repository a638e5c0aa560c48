"""The workflow's contract through the real app: overruled majorities, who produced the output,
the kill-test save rule, and the request limits and types."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from app.domain import CompletionRequest
from app.providers.errors import UpstreamServerError
from app.providers.fake import Reply, info
from tests.support import catalog_for, fake_app, fake_providers, fixture, fixture_responder

URL = "/phases/kill-test/orchestrate"
IDEA = {"idea": "AI agent that audits freight invoices for small brokers"}
CATALOG = catalog_for()
CLAUDE = CATALOG.models["claude-sonnet"].model_id
LLAMA_70B = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
PARALLEL = [  # the default parallel members' provider ids, in roster order
    CATALOG.models["reasoner"].model_id,
    "@cf/meta/llama-4-scout-17b-16e-instruct",
    "@cf/qwen/qwen3-30b-a3b-fp8",
    "MiniMax-M2.7",
    "local-model",  # openai-compat: the fake's default model
]
PARALLEL_IDS = set(PARALLEL)
PARKED = {"reason": "inference costs exceed what brokers pay today", "revisitEstimateMonths": 12}


def kill_test(verdict: str, **extra: Any) -> str:
    return json.dumps({**fixture("kill-test"), "verdict": verdict, **extra})


def verdicts(parallel: list[str], judge: str) -> Callable[[CompletionRequest], Reply]:
    """The five parallel members answer ``parallel`` in roster order; Claude judges ``judge``."""
    by_model = dict(zip(PARALLEL, parallel, strict=True))

    def respond(request: CompletionRequest) -> Reply:
        if info(request).role == "wild_ideas":
            return "[]"
        return kill_test(by_model.get(request.model, judge))

    return respond


# --- a judge that overrules the majority says so ------------------------------------------------


async def test_a_judge_overturning_five_kills_is_named_and_degrades() -> None:
    async with fake_app(fake_providers(verdicts(["KILL"] * 5, "GO"))) as (client, _):
        body = (await client.post(URL, json=IDEA)).json()
    assert body["mode"] == "orchestrated" and body["output"]["verdict"] == "GO"
    assert "verdict: the judge chose GO against the majority KILL (5 of 5 answers)" in body["warnings"]
    assert body["degraded"] is True  # a unanimous decision overturned
    assert body["votes"]["leader"] == "KILL"


async def test_a_weighted_majority_overturned_is_named_with_its_weights_but_not_degraded() -> None:
    # 2 KILL (4 weighted votes) against 3 GO (3): KILL leads by weight, the judge wrote GO.
    responder = verdicts(["KILL", "GO", "KILL", "GO", "GO"], "GO")
    async with fake_app(fake_providers(responder)) as (client, _):
        body = (await client.post(URL, json=IDEA)).json()
    expected = "verdict: the judge chose GO against the majority KILL (2 of 5 answers, 4 of 7 weighted votes)"
    assert expected in body["warnings"]
    assert body["degraded"] is False  # a split vote resolved by the judge is its call to make


async def test_a_judge_following_the_majority_adds_no_warning() -> None:
    async with fake_app(fake_providers(verdicts(["KILL", "KILL", "GO", "PIVOT", "KILL"], "KILL"))) as (
        client,
        _,
    ):
        body = (await client.post(URL, json=IDEA)).json()
    assert body["warnings"] == [] and body["degraded"] is False


# --- kill-test: a KILL that parks the idea needs a reason ---------------------------------------


async def test_a_kill_parked_without_a_reason_goes_to_the_repair_round() -> None:
    fakes = fake_providers(verdicts(["KILL"] * 5, "KILL"))
    fakes["anthropic"].script(
        CLAUDE,
        kill_test("KILL", parkedForFuture={"revisitEstimateMonths": 12}),
        kill_test("KILL", parkedForFuture=PARKED),
    )
    async with fake_app(fakes) as (client, _):
        body = (await client.post(URL, json=IDEA)).json()
    assert body["mode"] == "orchestrated"
    assert body["output"]["parkedForFuture"]["reason"] == PARKED["reason"]
    judge = next(m for m in body["models"] if m["role"] == "synthesizer")
    assert any("reason" in e for e in judge["output_errors"])
    assert [m["status"] for m in body["models"] if m["role"] == "repair"] == ["ok"]


async def test_the_park_rule_is_published_and_never_sent_as_structured_output() -> None:
    async with fake_app() as (client, fakes):
        published = (await client.get("/phases/kill-test")).json()["output_schema"]
        await client.post(URL, json=IDEA)
    assert any("parkedForFuture" in json.dumps(rule.get("then")) for rule in published["allOf"])
    sent = [c.json_schema for c in fakes["openai_compat"].calls]  # the one structured-output model
    assert sent and all(s is not None and '"if":' not in json.dumps(s) for s in sent)


async def test_a_kill_no_judge_can_park_properly_falls_back_to_a_valid_answer() -> None:
    def respond(request: CompletionRequest) -> Reply:
        if info(request).role == "wild_ideas":
            return "[]"
        if request.model in PARALLEL_IDS:
            return kill_test("KILL", parkedForFuture=PARKED)
        return kill_test("KILL", parkedForFuture={"reason": ""})  # every judge, every repair

    async with fake_app(fake_providers(respond)) as (client, _):
        body = (await client.post(URL, json=IDEA)).json()
    assert body["mode"] == "fallback" and body["degraded"] is True
    assert body["output"]["parkedForFuture"]["reason"] == PARKED["reason"]
    assert body["orchestration"]["synthesizerModel"] in PARALLEL_IDS  # the member whose answer it is


# --- synthesizerModel and the identifiers in the orchestration record ---------------------------


async def test_orchestrated_names_the_judge_and_every_model_by_its_provider_id() -> None:
    def respond(request: CompletionRequest) -> Reply:
        if info(request).role == "wild_ideas":
            return '[{"answer": "A", "wildIdea": "sell to insurers", "reasoning": "nobody else did"}]'
        return fixture_responder(request)

    async with fake_app(fake_providers(respond)) as (client, _):
        body = (await client.post(URL, json=IDEA)).json()
    record = body["orchestration"]
    assert body["mode"] == "orchestrated" and record["synthesizerModel"] == CLAUDE
    assert {o["model"] for o in record["modelOutputs"]} == PARALLEL_IDS
    [idea] = record["wildIdeas"]
    labelled = next(m for m in body["models"] if m["answer_label"] == "A")
    assert idea["model"] == labelled["model_id"] in PARALLEL_IDS
    assert body["wild_ideas"][0]["model"] == labelled["model"]  # the top-level list keeps aliases


async def test_a_fallback_to_the_single_model_names_that_model() -> None:
    def respond(request: CompletionRequest) -> Reply:
        if request.model in PARALLEL_IDS:
            return UpstreamServerError("down", provider="x", status_code=500)
        return fixture_responder(request)

    async with fake_app(fake_providers(respond), retry_max_attempts=1) as (client, _):
        body = (await client.post(URL, json=IDEA)).json()
    assert body["mode"] == "fallback" and body["synthesizer"] is None
    assert body["orchestration"]["synthesizerModel"] == LLAMA_70B


async def test_single_mode_names_the_single_model() -> None:
    async with fake_app() as (client, _):
        body = (await client.post(URL, json={**IDEA, "options": {"single_model": True}})).json()
    assert body["mode"] == "single"
    assert body["orchestration"]["synthesizerModel"] == LLAMA_70B


# --- request limits and types -------------------------------------------------------------------


async def test_max_idea_chars_sets_the_limit_in_both_directions() -> None:
    async with fake_app(max_idea_chars=50) as (client, _):
        over = await client.post(URL, json={"idea": "x" * 51})
        at = await client.post(URL, json={"idea": "x" * 50})
    assert over.status_code == 413
    error = over.json()["error"]
    assert error["code"] == "too_large" and "MAX_IDEA_CHARS is 50" in error["message"]
    assert at.status_code == 200
    async with fake_app(max_idea_chars=40_000) as (client, _):
        long = await client.post(URL, json={"idea": "x" * 30_000})
    assert long.status_code == 200, long.text  # past the old fixed 20 000 cap


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("deadline_s", True),
        ("deadline_s", "60"),
        ("samples", "2"),
        ("samples", 2.0),
        ("layers", True),
        ("quorum", "3"),
        ("quorum_grace_s", "5"),
        ("max_cost_usd", True),
        ("single_model", "true"),
    ],
)
async def test_options_reject_booleans_and_numeric_strings(option: str, value: Any) -> None:
    async with fake_app() as (client, fakes):
        response = await client.post(URL, json={**IDEA, "options": {option: value}})
    assert response.status_code == 422
    problem = response.json()["error"]["details"]["problems"][0]
    assert problem["field"] == f"body.options.{option}"
    assert all(not f.calls for f in fakes.values())


async def test_whole_numbers_are_still_fine_for_float_options() -> None:
    async with fake_app() as (client, _):
        response = await client.post(URL, json={**IDEA, "options": {"deadline_s": 60, "max_cost_usd": 5}})
    assert response.status_code == 200, response.text
