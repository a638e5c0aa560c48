"""No cloud key: every phase runs on the local model server (here the fake, speaking llama.cpp)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from jsonschema import Draft202012Validator

from app.main import create_app
from app.phases.output import BOUNDED_MAX_ITEMS
from app.settings import LocalModelSettings, OpenAICompatSettings
from tests.fakes.upstream import Call, FakeUpstream, Reply, running, within_schema
from tests.support import client_for, fixture, free_port, make_settings

IDEA = b'{"idea": "AI agent that audits freight invoices for small brokers"}'


def local_settings(url: str) -> LocalModelSettings:
    return LocalModelSettings(_env_file=None, url=url, members=3)  # type: ignore[call-arg]


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    with running(fake):
        yield fake


@pytest.fixture
async def client(upstream: FakeUpstream) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(local_model=local_settings(upstream.base_urls()["openai_compat"]))
    async with client_for(create_app(settings)) as http:
        yield http


async def test_a_phase_runs_on_the_local_roster(client: httpx.AsyncClient, upstream: FakeUpstream) -> None:
    response = await client.post("/phases/kill-test/orchestrate", content=IDEA)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["roster"] == "local" and body["mode"] == "orchestrated" and not body["degraded"]
    # The local default (#18): the single model writes the answer, the three members vote on its verdict.
    assert body["strategy"] == "ballot" and body["synthesizer"] is None
    assert body["merge"]["*"] == "the rest: from local, the writer; the others cast ballots", body["merge"]
    schema = (await client.get("/phases/kill-test")).json()["output_schema"]
    assert list(Draft202012Validator(schema).iter_errors(body["output"])) == []
    parallel = [m for m in body["models"] if m["role"] == "parallel"]
    assert [m["model"] for m in parallel] == ["local", "local-1", "local-2", "local-3"]
    assert all(m["status"] == "ok" and m["provider"] == "local" for m in parallel)
    assert all(not m.get("output_errors") for m in parallel), parallel  # ballots parse as ballots

    calls = upstream.calls
    assert {c.wire for c in calls} == {"openai_compat"} and len(calls) == 4  # writer + 3 ballots, no judge
    [writer] = [c for c in calls if "## Your perspective" not in c.user]
    ballots = [c for c in calls if "## Your perspective" in c.user]
    assert len(ballots) == 3
    assert len({c.body["seed"] for c in calls}) == 4
    assert len({c.body["temperature"] for c in ballots}) == 3
    assert len({c.user for c in ballots}) == 3
    # The writer is asked as options.single_model asks: its budget, no perspective, no ballot.
    assert "## Ballot" not in writer.user and writer.body["max_tokens"] == 900
    whole = writer.body["response_format"]["json_schema"]["schema"]
    assert whole["required"] == ["verdict"]
    assert whole["additionalProperties"] is False  # no room to echo the schema's keywords as keys
    assert whole["properties"]["fatalFlaws"]["maxItems"] == BOUNDED_MAX_ITEMS
    # The ballots: the verdict alone, in a budget sized for it, after the writer's cached prefix.
    for ballot in ballots:
        assert "## Ballot" in ballot.user
        assert ballot.body["response_format"]["json_schema"]["schema"] == {
            "type": "object",
            "properties": {"verdict": whole["properties"]["verdict"]},
            "required": ["verdict"],
            "additionalProperties": False,
        }
        assert ballot.body["max_tokens"] == 40
        # One prefix for the server's cache: the writer's whole prompt, then the ballot's own text.
        assert ballot.system == writer.system and ballot.user.startswith(writer.user)


async def test_the_ballots_follow_the_writer_one_at_a_time() -> None:
    # One CPU-bound server (the local roster's models are ``serial``): a ballot beside the writer
    # only slows it down. Each call must find nothing else in flight and every earlier call
    # answered. The first call to arrive is held a while, so calls sent at once would overlap.
    seen: list[tuple[int, list[str]]] = []

    def respond(call: Call) -> str:
        seen.append((fake.in_flight, [c.ended for c in fake.calls if c is not call]))
        return within_schema(call, json.dumps(fixture("kill-test")))

    fake = FakeUpstream(respond)
    fake.script("gemma-3-270m", Reply(delay_s=0.3))
    with running(fake):
        settings = make_settings(local_model=local_settings(fake.base_urls()["openai_compat"]))
        async with client_for(create_app(settings)) as client:
            response = await client.post("/phases/kill-test/orchestrate", content=IDEA)
    assert response.status_code == 200, response.text
    assert ["## Ballot" in c.user for c in fake.calls] == [False, True, True, True]  # the writer first
    assert seen == [(1, []), (1, ["answered"]), (1, ["answered"] * 2), (1, ["answered"] * 3)]
    parallel = [m for m in response.json()["models"] if m["role"] == "parallel"]
    assert [m["status"] for m in parallel] == ["ok"] * 4


async def test_a_hanging_ballot_in_turn_costs_its_timeout_and_the_next_ballot_still_votes() -> None:
    # In turn, a ballot that never answers holds the next one back for its own timeout only: the
    # writer's answer stands, the hung ballot is recorded as a timeout, the other still votes.
    fake = FakeUpstream()
    fake.script("gemma-3-270m", Reply(), Reply(hang=True))  # the writer, then the first ballot
    with running(fake):
        local = LocalModelSettings(
            _env_file=None,  # type: ignore[call-arg]
            url=fake.base_urls()["openai_compat"],
            members=2,
            timeout_s=1,
            deadline_s=30,
        )
        async with client_for(create_app(make_settings(local_model=local, retry_max_attempts=1))) as client:
            response = await client.post("/phases/kill-test/orchestrate", content=IDEA)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "orchestrated" and body["strategy"] == "ballot"
    parallel = {m["model"]: m for m in body["models"] if m["role"] == "parallel"}
    assert parallel["local"]["status"] == "ok" and parallel["local-2"]["status"] == "ok"
    assert parallel["local-1"]["status"] == "timeout", parallel["local-1"]
    assert ["## Ballot" in c.user for c in fake.calls] == [False, True, True]
    assert [c.ended for c in fake.calls] == ["answered", "disconnected", "answered"]


async def test_the_writer_is_asked_exactly_as_the_single_model_is(
    client: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    idea = {"idea": "AI agent that audits freight invoices"}
    single = {**idea, "options": {"single_model": True}}
    assert (await client.post("/phases/kill-test/orchestrate", json=single)).status_code == 200
    [alone] = upstream.calls
    assert (await client.post("/phases/kill-test/orchestrate", json=idea)).status_code == 200
    [writer] = [c for c in upstream.calls[1:] if "## Your perspective" not in c.user]
    # The very same request: body (model, seed, temperature, budget, schema, streaming) and
    # prompt, the fence's nonce included (it is derived from the request's own text).
    assert writer.body == alone.body


async def test_a_failed_writer_is_not_asked_again_and_the_error_says_why() -> None:
    # The writer (no perspective, no ballot) answers prose; the ballots vote. The local roster's
    # only single model is the writer, so no fallback call is made: the same prompt and seed
    # would only fail again. The error names the writer's rejected answer.
    def respond(call: Call) -> str:
        if "## Your perspective" in call.user:
            return within_schema(call, json.dumps(fixture("kill-test")))
        return "I think this idea is promising but I cannot format it."

    fake = FakeUpstream(respond)
    with running(fake):
        settings = make_settings(local_model=local_settings(fake.base_urls()["openai_compat"]))
        async with client_for(create_app(settings)) as client:
            response = await client.post("/phases/kill-test/orchestrate", content=IDEA)
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    writer = [m for m in error["models"] if m["model"] == "local"]
    assert [m["role"] for m in writer] == ["parallel"], error["models"]  # asked once, not again
    assert writer[0]["output_errors"], writer
    # The writer once, and no ballot: they wait for an answer to vote on, and there was none.
    # The record says so for each of them.
    assert len(fake.calls) == 1 and "## Ballot" not in fake.calls[0].user
    skipped = [m for m in error["models"] if m["model"] != "local"]
    assert [m["model"] for m in skipped] == ["local-1", "local-2", "local-3"], error["models"]
    assert all(m["status"] == "skipped" and "not asked" in m["error"] for m in skipped), skipped


async def test_every_member_writes_a_whole_answer_under_merge(
    client: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    body = b'{"idea": "AI agent that audits freight invoices", "options": {"strategy": "merge"}}'
    response = await client.post("/phases/kill-test/orchestrate", content=body)
    assert response.status_code == 200, response.text
    assert response.json()["strategy"] == "merge"
    assert response.json()["merge"]["*"] == "the rest: from local-1, the most central answer"
    assert len(upstream.calls) == 3
    assert not any("## Ballot" in c.user for c in upstream.calls)
    assert {c.body["max_tokens"] for c in upstream.calls} == {640}


async def test_the_local_judge_stays_available_by_option(
    client: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    body = b'{"idea": "AI agent that audits freight invoices", "options": {"strategy": "synthesize"}}'
    response = await client.post("/phases/kill-test/orchestrate", content=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["strategy"] == "synthesize" and answer["synthesizer"]["model"] == "local-judge"
    assert answer["merge"] is None
    assert len(upstream.calls) == 4  # 3 members + the judge


async def test_the_local_roster_is_visible_everywhere(client: httpx.AsyncClient) -> None:
    detail = (await client.get("/phases/kill-test")).json()
    assert detail["roster"] == "local" and detail["synthesizer"] == "local-judge"
    assert [c["model"] for c in detail["config"]["parallel"]] == ["local-1", "local-2", "local-3"]
    assert (await client.get("/phases")).json()["roster"] == "local"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["roster"] == "local" and ready.json()["local_model"]["state"] == "ready"


async def test_a_loading_server_is_a_503_that_says_so(
    client: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    upstream.health_status = 503
    response = await client.post("/phases/kill-test/orchestrate", content=IDEA)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "no_usable_provider" and "loading" in error["message"]
    assert upstream.calls == []  # no model call was attempted
    assert (await client.get("/readyz")).json()["local_model"]["state"] == "loading"


async def test_a_server_that_is_down_is_a_prompt_503_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    async with client_for(create_app(make_settings(local_model=local_settings(url)))) as client:
        began = time.monotonic()
        response = await client.post("/phases/kill-test/orchestrate", content=IDEA)
        elapsed = time.monotonic() - began
        ready = await client.get("/readyz")
    assert response.status_code == 503
    error = response.json()["error"]
    assert url.removesuffix("/v1") in error["message"] and "down" in error["message"]
    assert "make run" in error["hint"]
    assert elapsed < 30  # refused at once, never a hang until the 100 s model timeout
    assert ready.status_code == 503 and ready.json()["local_model"]["state"] == "down"


async def test_cloud_keys_switch_the_local_roster_off(upstream: FakeUpstream) -> None:
    settings = make_settings(
        local_model=local_settings(upstream.base_urls()["openai_compat"]),
        openai_compat=OpenAICompatSettings(_env_file=None, base_url=upstream.base_urls()["openai_compat"]),  # type: ignore[call-arg]
    )
    async with client_for(create_app(settings)) as client:
        detail = (await client.get("/phases/kill-test")).json()
    assert detail["roster"] == "cloud"
    assert "local-1" not in detail["models"]
