"""Every strategy through the real app on fake providers: what it calls and what it returns."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from app.domain import Completion, CompletionRequest, Role, Usage
from app.providers.errors import UpstreamServerError
from app.providers.fake import Delayed, FakeProvider, Reply, info
from app.strategies.names import NAMES
from tests.support import fake_app, fake_providers, fixture, fixture_responder

IDEA = {"idea": "AI agent that audits freight invoices for small brokers"}
REASONER = "@cf/zai-org/glm-4.7-flash"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
QWEN3 = "@cf/qwen/qwen3-30b-a3b-fp8"
MINIMAX = "MiniMax-M2.7"
OPENAI = "local-model"
LLAMA_70B = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
PARALLEL = ("reasoner", "llama-scout", "qwen3", "minimax", "openai-compat")


def answers(
    verdicts: dict[str, str], *, router: str = "", judge: str | None = None
) -> Callable[[CompletionRequest], Reply]:
    """Members answer kill-test with ``verdicts`` by model id; others follow the fixtures."""

    def respond(request: CompletionRequest) -> Reply:
        role = info(request).role
        if role == "parallel" and request.model in verdicts:
            return json.dumps({**fixture("kill-test"), "verdict": verdicts[request.model]})
        if role == "synthesizer" and judge is not None:
            return json.dumps({**fixture("kill-test"), "verdict": judge})
        if role == "ranker":
            labels = [
                line.split()[1] for line in request.prompt.user.splitlines() if line.startswith("<<<ANSWER")
            ]
            return json.dumps({"ranking": sorted(labels), "reasons": "alphabetical, for the test"})
        if role == "router":
            return router
        return fixture_responder(request)

    return respond


async def post(
    responder: Callable[[CompletionRequest], Reply], **options: Any
) -> tuple[dict[str, Any], dict[str, FakeProvider]]:
    async with fake_app(fake_providers(responder)) as (client, fakes):
        response = await client.post(
            "/phases/kill-test/orchestrate", json={**IDEA, "options": options} if options else IDEA
        )
    assert response.status_code == 200, response.text
    return response.json(), dict(fakes)


def calls_of(fakes: dict[str, FakeProvider], role: Role) -> list[CompletionRequest]:
    return [c for f in fakes.values() for c in f.calls_for(role=role)]


def answer_blocks(request: CompletionRequest) -> int:
    return sum(line.startswith("<<<ANSWER ") for line in request.prompt.user.splitlines())


def records(body: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [m for m in body["models"] if m["role"] == role]


async def test_synthesize_reports_agreement_field_by_field() -> None:
    verdicts = {REASONER: "GO", SCOUT: "GO", QWEN3: "GO", MINIMAX: "KILL", OPENAI: "GO"}
    body, _ = await post(answers(verdicts, judge="GO"))
    assert body["strategy"] == "synthesize"
    report = body["agreement"]
    verdict = next(f for f in report["fields"] if f["path"] == "verdict")
    assert verdict == {"path": "verdict", "distribution": {"GO": 4, "KILL": 1}, "final": "GO",
                       "unanimous": False, "resolved": True}  # fmt: skip
    minimax = next(m for m in report["models"] if m["model"] == "minimax")
    assert "verdict" in minimax["disagreements"] and minimax["agreement"] < 1
    reasoner = next(m for m in report["models"] if m["model"] == "reasoner")
    assert reasoner["agreement"] == 1.0 and reasoner["disagreements"] == []
    [disagreement] = [d for d in report["disagreements"] if d["path"] == "verdict"]
    assert disagreement["values"] == {
        "GO": ["reasoner", "llama-scout", "qwen3", "openai-compat"],
        "KILL": ["minimax"],
    }
    assert disagreement["followed_majority"] is True


async def test_vote_keeps_the_majority_even_when_the_judge_strays() -> None:
    verdicts = {REASONER: "GO", SCOUT: "GO", QWEN3: "PIVOT", MINIMAX: "GO", OPENAI: "PIVOT"}
    body, fakes = await post(answers(verdicts, judge="PIVOT"), strategy="vote")
    assert body["strategy"] == "vote" and body["output"]["verdict"] == "GO"
    assert body["votes"]["leader"] == "GO"
    assert any("vote's GO was kept" in w for w in body["warnings"])
    [judge] = calls_of(fakes, "synthesizer")
    assert "weighted majority is GO" in judge.prompt.user


async def test_vote_a_single_dissenting_kill_weighs_double() -> None:
    verdicts = {REASONER: "GO", SCOUT: "KILL", QWEN3: "GO", MINIMAX: "PIVOT", OPENAI: "PIVOT"}
    body, _ = await post(answers(verdicts, judge="GO"), strategy="vote")
    # GO 2, KILL 2 (one vote at weight 2), PIVOT 2: a three-way tie the veto resolves to KILL.
    assert body["votes"]["weighted"] == {"GO": 2.0, "PIVOT": 2.0, "KILL": 2.0}
    assert body["output"]["verdict"] == "KILL"


async def test_vote_with_all_invalid_answers_leaves_the_judge_to_decide() -> None:
    def respond(request: CompletionRequest) -> Reply:
        return "I would rather not say." if info(request).role == "parallel" else fixture_responder(request)

    body, _ = await post(respond, strategy="vote")
    assert body["output"]["verdict"] == fixture("kill-test")["verdict"]
    assert any("no majority on verdict" in w for w in body["warnings"])


async def test_vote_needs_a_decision_field() -> None:
    async with fake_app() as (client, _):
        response = await client.post(
            "/phases/strategy/orchestrate", json={**IDEA, "options": {"strategy": "vote"}}
        )
    assert response.status_code == 422
    assert "decision field" in response.json()["error"]["message"]


async def test_merge_combines_the_answers_without_a_judge() -> None:
    verdicts = {REASONER: "GO", SCOUT: "PIVOT", QWEN3: "GO", MINIMAX: "PIVOT", OPENAI: "GO"}
    body, fakes = await post(answers(verdicts, judge="KILL"), strategy="merge")
    assert body["strategy"] == "merge" and body["mode"] == "orchestrated" and not body["degraded"]
    assert body["output"]["verdict"] == "GO" and body["merge"]["verdict"] == "majority 3/5"
    assert body["synthesizer"] is None and calls_of(fakes, "synthesizer") == []
    assert len(records(body, "parallel")) == 5 and body["votes"]["leader"] == "GO"
    assert body["merge"]["*"].endswith("the most central answer")


async def test_merge_follows_the_decision_rule_where_the_veto_outweighs_the_count() -> None:
    verdicts = {REASONER: "GO", SCOUT: "KILL", QWEN3: "GO", MINIMAX: "PIVOT", OPENAI: "PIVOT"}
    body, _ = await post(answers(verdicts), strategy="merge")
    assert body["votes"]["leader"] == "KILL" and body["output"]["verdict"] == "KILL"
    assert body["merge"]["verdict"] == "the decision rule's weighted vote"


@pytest.mark.parametrize(("strategy", "scout"), [("merge", "ok"), ("synthesize", "timeout")])
async def test_merge_keeps_no_time_back_for_a_judge(strategy: str, scout: str) -> None:
    # A 4 s deadline keeps 2 s for the judge: a member answering at 2.6 s is cut off, unless no
    # judge will run.
    def respond(request: CompletionRequest) -> Reply:
        reply = fixture_responder(request)
        return Delayed(2.6, reply) if request.model == SCOUT and info(request).role == "parallel" else reply

    body, _ = await post(respond, strategy=strategy, deadline_s=4)
    [record] = [m for m in records(body, "parallel") if m["model"] == "llama-scout"]
    assert record["status"] == scout, record


async def test_when_every_judge_fails_the_answers_are_merged_before_any_single_model() -> None:
    def respond(request: CompletionRequest) -> Reply:
        if info(request).role in ("synthesizer", "repair"):
            return UpstreamServerError("down", provider="x", status_code=500)
        verdicts = {REASONER: "GO", SCOUT: "PIVOT", QWEN3: "GO", MINIMAX: "GO", OPENAI: "PIVOT"}
        return answers(verdicts)(request)

    body, fakes = await post(respond)
    assert body["strategy"] == "synthesize" and body["mode"] == "fallback" and body["degraded"] is True
    assert body["output"]["verdict"] == "GO" and body["merge"]["verdict"] == "majority 3/5"
    assert any("merged 5 schema-valid answers without synthesis" in w for w in body["warnings"])
    assert calls_of(fakes, "synthesizer") and calls_of(fakes, "fallback") == []


async def test_ballot_has_the_single_model_write_and_every_member_vote_on_the_verdict() -> None:
    # The writer (llama-70b, kill-test's single model) says GO; the ballots outweigh it with the veto.
    verdicts = {
        LLAMA_70B: "GO",
        REASONER: "KILL",
        SCOUT: "GO",
        QWEN3: "PIVOT",
        MINIMAX: "PIVOT",
        OPENAI: "KILL",
    }
    body, fakes = await post(answers(verdicts, judge="GO"), strategy="ballot")
    assert body["strategy"] == "ballot" and body["mode"] == "orchestrated" and not body["degraded"]
    assert body["synthesizer"] is None and calls_of(fakes, "synthesizer") == []
    assert body["votes"]["leader"] == "KILL" and body["output"]["verdict"] == "KILL"
    assert body["merge"]["verdict"] == "the decision rule's weighted vote"
    assert body["merge"]["*"] == "the rest: from llama-70b, the writer; the others cast ballots"
    assert body["output"] == {**fixture("kill-test"), "verdict": "KILL"}  # the writer's, re-voted
    members = records(body, "parallel")
    assert [m["model"] for m in members] == ["llama-70b", *PARALLEL]
    assert all(m["status"] == "ok" and not m.get("output_errors") for m in members)

    sent = {c.model: c for c in calls_of(fakes, "parallel")}
    writer = sent.pop(LLAMA_70B)
    assert "## Ballot" not in writer.prompt.user and writer.max_tokens == 4096  # single_max_tokens
    for ballot in sent.values():  # whole answers from these fakes: read as ballots all the same
        assert ballot.max_tokens == 40
        assert ballot.prompt.user.startswith(writer.prompt.user)  # the task, then the ballot
        assert "## Ballot" in ballot.prompt.user and "Decide only verdict" in ballot.prompt.user
        if ballot.json_schema is not None:  # the models that take a schema get the ballot's
            assert list(ballot.json_schema["properties"]) == ["verdict"]
            assert ballot.json_schema["additionalProperties"] is False


async def test_ballot_without_its_writer_falls_back_to_a_whole_answer_never_a_ballot() -> None:
    def respond(request: CompletionRequest) -> Reply:
        if request.model == LLAMA_70B:
            return UpstreamServerError("down", provider="workers_ai", status_code=500)
        return answers({REASONER: "KILL", SCOUT: "KILL", QWEN3: "KILL", MINIMAX: "KILL", OPENAI: "KILL"})(
            request
        )

    body, fakes = await post(respond, strategy="ballot")
    assert body["mode"] == "fallback" and body["degraded"] is True
    assert set(body["output"]) > {"verdict", "fatalFlaws"}  # a whole kill-test answer
    assert [m["status"] for m in records(body, "parallel") if m["model"] == "llama-70b"] == ["error"]
    # The next single model wrote it; the writer, already failed, was not asked again.
    assert [c.model for c in calls_of(fakes, "fallback")] == [MINIMAX]


async def test_ballot_counts_the_ballots_that_came_whole_and_names_the_rest() -> None:
    # Misbehaving voters: one cut off at its limit (twice: the re-ask too), one whose reasoning
    # never closes, one that fails; the two left vote KILL against the writer's GO.
    cut = Completion(text='{"verd', usage=Usage(10, 40), finish_reason="length")
    unfinished = Completion(text="", usage=Usage(10, 40), reasoning="Let me weigh", reasoning_unfinished=True)

    def respond(request: CompletionRequest) -> Reply:
        if info(request).role == "parallel":
            if request.model == REASONER:
                return cut
            if request.model == QWEN3:
                return unfinished
            if request.model == SCOUT:
                return UpstreamServerError("down", provider="workers_ai", status_code=500)
        return answers({LLAMA_70B: "GO", MINIMAX: "KILL", OPENAI: "KILL"})(request)

    body, fakes = await post(respond, strategy="ballot")
    assert body["mode"] == "orchestrated" and body["output"]["verdict"] == "KILL"
    assert body["votes"]["choices"] == {"llama-70b": "GO", "minimax": "KILL", "openai-compat": "KILL"}
    by_model = {m["model"]: m for m in records(body, "parallel")}
    assert (
        by_model["reasoner"]["error_kind"] == "truncated" and "max_tokens=" in by_model["reasoner"]["error"]
    )
    assert by_model["qwen3"]["error_kind"] == "unfinished_reasoning"
    assert by_model["llama-scout"]["status"] == "error"
    assert [c.max_tokens for c in fakes["workers_ai"].calls_for(REASONER)] == [40, 80]  # re-asked once


async def test_ballot_on_a_phase_with_nothing_to_vote_on_says_one_member_wrote_it() -> None:
    async with fake_app() as (client, fakes):
        response = await client.post(
            "/phases/customer-intel/orchestrate", json={**IDEA, "options": {"strategy": "ballot"}}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["strategy"] == "ballot" and body["mode"] == "orchestrated"
    assert len(records(body, "parallel")) == 1 == len(calls_of(dict(fakes), "parallel"))
    assert any("no decision field to vote on" in w for w in body["warnings"]), body["warnings"]


async def test_self_consistency_samples_each_model_at_rising_temperatures() -> None:
    body, fakes = await post(answers({REASONER: "KILL"}, judge="GO"), strategy="self_consistency", samples=2)
    members = records(body, "parallel")
    assert sorted(m["model"] for m in members) == sorted(f"{a}#{i}" for a in PARALLEL for i in (1, 2))
    temperatures = sorted({c.temperature for c in calls_of(fakes, "parallel") if c.model == QWEN3})
    assert temperatures == [0.3, 0.7]
    # reasoner's two KILLs (weight 2 each) against eight PIVOTs: PIVOT wins the majority.
    assert body["votes"]["leader"] == "PIVOT" and body["output"]["verdict"] == "PIVOT"


async def test_rank_returns_rankings_and_judges_the_top_answers() -> None:
    body, fakes = await post(answers({}), strategy="rank")
    rankings = body["rankings"]
    assert set(rankings["by_ranker"]) == set(PARALLEL)
    for ranker, ranked in rankings["by_ranker"].items():
        assert ranker not in ranked and len(ranked) == 4  # its own answer excluded
    assert len(rankings["top"]) == 3 and set(rankings["top"]) <= set(PARALLEL)
    assert len(records(body, "ranker")) == 5
    [judge] = calls_of(fakes, "synthesizer")
    assert answer_blocks(judge) == 3


async def test_route_asks_the_classifier_and_runs_only_its_picks() -> None:
    router = json.dumps({"category": "coding", "models": ["qwen3", "minimax"]})
    body, fakes = await post(answers({}, router=router), strategy="route")
    assert body["route"] == {"category": "coding", "models": ["qwen3", "minimax"], "decided_by": "classifier"}
    assert sorted(m["model"] for m in records(body, "parallel")) == ["minimax", "qwen3"]
    assert [m["model"] for m in records(body, "router")] == ["llama-8b-fast"]
    assert len(calls_of(fakes, "parallel")) == 2


async def test_route_judges_the_picked_members_answers_and_never_the_classifiers_reply() -> None:
    router = json.dumps({"category": "coding", "models": ["qwen3", "minimax"]})
    body, fakes = await post(answers({}, router=router), strategy="route")
    [judge] = calls_of(fakes, "synthesizer")
    assert answer_blocks(judge) == 2
    assert sorted(m["model"] for m in body["agreement"]["models"]) == ["minimax", "qwen3"]


async def test_route_falls_back_to_every_model_when_the_classifier_talks_nonsense() -> None:
    body, _ = await post(answers({}, router="no idea"), strategy="route")
    assert body["route"]["decided_by"] == "all" and len(body["route"]["models"]) == 4


async def test_self_moa_samples_only_the_best_model() -> None:
    body, fakes = await post(answers({}), strategy="self_moa", samples=3)
    assert [m["model"] for m in records(body, "parallel")] == ["reasoner#1", "reasoner#2", "reasoner#3"]
    assert {c.model for c in calls_of(fakes, "parallel")} == {REASONER}


async def test_moa_refines_in_layers_before_the_aggregator() -> None:
    body, fakes = await post(answers({}), strategy="moa", layers=2)
    refiners = records(body, "refiner")
    assert sorted(m["model"] for m in refiners) == sorted(f"{a}@L2" for a in PARALLEL)
    [judge] = calls_of(fakes, "synthesizer")
    assert len(calls_of(fakes, "refiner")) == 5 and answer_blocks(judge) == 5


async def test_moa_keeps_the_proposals_when_the_refiners_fail() -> None:
    def respond(request: CompletionRequest) -> Reply:
        if info(request).role == "refiner":
            return UpstreamServerError("down", provider="x", status_code=500)
        return fixture_responder(request)

    body, _ = await post(respond, strategy="moa", layers=2)
    assert body["mode"] == "orchestrated" and body["degraded"] is True
    assert all(m["status"] == "error" for m in records(body, "refiner"))


@pytest.mark.parametrize("strategy", NAMES)
async def test_every_strategy_counts_its_calls_in_the_cost(strategy: str) -> None:
    body, fakes = await post(
        answers({}, router='{"category": "factual", "models": ["reasoner", "qwen3"]}'), strategy=strategy
    )
    assert len(body["models"]) == sum(len(f.calls) for f in fakes.values())
    assert body["usage"]["tokens_in"] == sum(m["tokens_in"] for m in body["models"])


async def test_each_phase_shows_its_strategy() -> None:
    async with fake_app() as (client, _):
        phases = (await client.get("/phases")).json()["phases"]
        detail = (await client.get("/phases/kill-test")).json()
    assert {p["strategy"] for p in phases} <= set(NAMES)
    assert detail["config"]["strategy"] == next(p for p in phases if p["name"] == "kill-test")["strategy"]
