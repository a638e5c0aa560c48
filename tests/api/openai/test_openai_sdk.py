"""The official openai SDK, sync, async and streaming, against the service on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openai import AsyncOpenAI, OpenAI

from tests.api.openai.conftest import IDEA, Stack, user
from tests.fakes.upstream import Reply


@pytest.fixture
def sdk(stack: Stack) -> Iterator[OpenAI]:
    with OpenAI(base_url=stack.base_url, api_key="unused-on-an-open-service", max_retries=0) as client:
        yield client


def phase_schema(stack: Stack) -> dict[str, Any]:
    schema: dict[str, Any] = httpx.get(f"{stack.origin}/phases/kill-test").json()["output_schema"]
    return schema


def test_models_lists_every_phase_and_strategy(stack: Stack, sdk: OpenAI) -> None:
    listed = {m.id: m for m in sdk.models.list()}
    assert "phase/kill-test" in listed and "phase/kill-test:vote" in listed
    assert "phase/opportunity" in listed and "phase/synthesis:moa" in listed
    one = sdk.models.retrieve("phase/kill-test:rank")
    assert one.id == "phase/kill-test:rank" and one.object == "model"
    assert (one.model_extra or {})["phase"] == "kill-test" and (one.model_extra or {})["strategy"] == "rank"


def test_sync_completion_is_the_validated_phase_output(stack: Stack, sdk: OpenAI) -> None:
    calls_before = len(stack.upstream.calls)
    answer = sdk.chat.completions.create(
        model="phase/kill-test", messages=user(), response_format={"type": "json_object"}
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    output = json.loads(choice.message.content or "")
    assert list(Draft202012Validator(phase_schema(stack)).iter_errors(output)) == []
    record = (answer.model_extra or {})["orchestration"]
    assert record["output"] == output and record["mode"] == "orchestrated"
    assert answer.id == f"chatcmpl-{record['request_id']}" and answer.model == "phase/kill-test"
    # usage sums every model call the run made: parallel members, judge, wild ideas.
    assert answer.usage is not None
    assert answer.usage.prompt_tokens == sum(m["tokens_in"] for m in record["models"]) > 0
    assert answer.usage.completion_tokens == sum(m["tokens_out"] for m in record["models"]) > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert sum(m["attempts"] for m in record["models"]) == len(stack.upstream.calls) - calls_before
    assert any(IDEA in c.user for c in stack.upstream.calls[calls_before:])


def test_context_and_instructions_ride_in_a_json_system_message(stack: Stack, sdk: OpenAI) -> None:
    calls_before = len(stack.upstream.calls)
    system = {"context": {"customer-intel": {"segment": "brokers-with-5-to-50-trucks"}},
              "instructions": "weigh-the-factoring-risk"}  # fmt: skip
    answer = sdk.chat.completions.create(
        model="phase/kill-test",
        messages=[{"role": "system", "content": json.dumps(system)}, *user()],
    )
    assert answer.choices[0].finish_reason == "stop"
    prompts = [c.system + c.user for c in stack.upstream.calls[calls_before:]]
    assert any("brokers-with-5-to-50-trucks" in p and "weigh-the-factoring-risk" in p for p in prompts)


def test_a_json_user_message_carries_the_idea_and_context(stack: Stack, sdk: OpenAI) -> None:
    calls_before = len(stack.upstream.calls)
    content = json.dumps({"idea": "solar-kiosk-idea", "context": {"notes": "kiosk-context-marker"}})
    sdk.chat.completions.create(model="phase/kill-test", messages=[{"role": "user", "content": content}])
    prompts = [c.user for c in stack.upstream.calls[calls_before:]]
    assert any("solar-kiosk-idea" in p and "kiosk-context-marker" in p for p in prompts)


def test_the_strategy_in_the_model_name_runs(stack: Stack, sdk: OpenAI) -> None:
    answer = sdk.chat.completions.create(model="phase/kill-test:vote", messages=user())
    record = (answer.model_extra or {})["orchestration"]
    assert record["strategy"] == "vote" and record["votes"]["field"] == "verdict"


def test_a_matching_json_schema_is_honoured(stack: Stack, sdk: OpenAI) -> None:
    schema = {"type": "object", "required": ["verdict"], "properties": {"verdict": {"type": "string"}}}
    answer = sdk.chat.completions.create(
        model="phase/kill-test",
        messages=user(),
        response_format={"type": "json_schema", "json_schema": {"name": "kill", "schema": schema}},
    )
    assert json.loads(answer.choices[0].message.content or "")["verdict"] in ("GO", "PIVOT", "KILL")


def test_orchestration_options_ride_in_extra_body(stack: Stack, sdk: OpenAI) -> None:
    answer = sdk.chat.completions.create(
        model="phase/kill-test",
        messages=user(),
        extra_body={"orchestration": {"models": ["reasoner", "qwen3"], "include_raw": True}},
    )
    record = (answer.model_extra or {})["orchestration"]
    parallel = [m for m in record["models"] if m["role"] == "parallel"]
    assert sorted(m["model"] for m in parallel) == ["qwen3", "reasoner"]
    assert all(m["raw"] for m in parallel)


async def test_async_client(stack: Stack) -> None:
    async with AsyncOpenAI(base_url=stack.base_url, api_key="unused", max_retries=0) as aclient:
        answer = await aclient.chat.completions.create(model="phase/kill-test:rank", messages=user())
    assert (answer.model_extra or {})["orchestration"]["strategy"] == "rank"
    assert json.loads(answer.choices[0].message.content or "")["verdict"] in ("GO", "PIVOT", "KILL")


def test_sync_stream_narrates_then_answers(stack: Stack, sdk: OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model="phase/kill-test", messages=user(), stream=True, stream_options={"include_usage": True}
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    events = [(c.model_extra or {}).get("orchestration_event") for c in chunks]
    progress = [e["event"] for e in events if e]
    assert progress[0] == "phase_started" and "model_finished" in progress and "synthesis_started" in progress
    assert all(not c.choices for c, e in zip(chunks, events, strict=True) if e)  # plain clients skip them
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    output = json.loads(text)
    assert list(Draft202012Validator(phase_schema(stack)).iter_errors(output)) == []
    stops = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(stops) == 1 and (stops[0].model_extra or {})["orchestration"]["output"] == output
    assert chunks[0].choices[0].delta.role == "assistant"
    usage = chunks[-1].usage
    assert usage is not None and not chunks[-1].choices  # the usage chunk is last, after the stop
    record = (stops[0].model_extra or {})["orchestration"]
    assert usage.prompt_tokens == record["usage"]["tokens_in"] > 0
    assert {c.id for c in chunks} == {f"chatcmpl-{record['request_id']}"}


def test_without_include_usage_no_usage_chunk(stack: Stack, sdk: OpenAI) -> None:
    chunks = list(sdk.chat.completions.create(model="phase/kill-test", messages=user(), stream=True))
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_async_stream(stack: Stack) -> None:
    async with AsyncOpenAI(base_url=stack.base_url, api_key="unused", max_retries=0) as aclient:
        stream = await aclient.chat.completions.create(model="phase/kill-test", messages=user(), stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert json.loads(text)["verdict"] in ("GO", "PIVOT", "KILL")


def test_an_idempotency_key_replays_without_calling_a_model(stack: Stack, sdk: OpenAI) -> None:
    headers = {"Idempotency-Key": "openai-sdk-step-1"}
    first = sdk.chat.completions.with_raw_response.create(
        model="phase/kill-test", messages=user(), extra_headers=headers
    )
    calls_after_first = len(stack.upstream.calls)
    again = sdk.chat.completions.with_raw_response.create(
        model="phase/kill-test", messages=user(), extra_headers=headers
    )
    assert first.headers["idempotent-replayed"] == "false" and again.headers["idempotent-replayed"] == "true"
    assert len(stack.upstream.calls) == calls_after_first
    assert again.parse().id == first.parse().id
    assert again.parse().choices[0].message.content == first.parse().choices[0].message.content


def test_the_phase_endpoint_and_chat_share_one_run_per_key(stack: Stack, sdk: OpenAI) -> None:
    # The same request through either door is the same run: a key used on one replays on the other.
    headers = {"Idempotency-Key": "shared-door-key"}
    phase = httpx.post(
        f"{stack.origin}/phases/kill-test/orchestrate", json={"idea": IDEA}, headers=headers, timeout=60
    )
    calls = len(stack.upstream.calls)
    chat = sdk.chat.completions.with_raw_response.create(
        model="phase/kill-test", messages=user(), extra_headers=headers
    )
    assert chat.headers["idempotent-replayed"] == "true" and len(stack.upstream.calls) == calls
    assert json.loads(chat.parse().choices[0].message.content or "") == phase.json()["output"]


def test_chat_requests_count_in_the_phase_metrics(stack: Stack, sdk: OpenAI) -> None:
    def served() -> float:
        text = httpx.get(f"{stack.origin}/metrics").text
        lines = [line for line in text.splitlines() if line.startswith("orchestrator_requests_total{")]
        return sum(float(line.rsplit(" ", 1)[1]) for line in lines if 'phase="kill-test"' in line)

    before = served()
    sdk.chat.completions.create(model="phase/kill-test", messages=user())
    assert served() == before + 1


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/models", "/v1/models/{model}"])
def test_openapi_lists_the_endpoints(stack: Stack, path: str) -> None:
    paths = httpx.get(f"{stack.origin}/openapi.json").json()["paths"]
    assert path in paths
    if path == "/v1/chat/completions":
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": "#/components/schemas/ChatRequest"}
        assert body["examples"]["plain"]["value"]["model"] == "phase/kill-test"


def test_closing_the_stream_cancels_the_run_upstream(stack: Stack, sdk: OpenAI) -> None:
    reasoner = "@cf/zai-org/glm-4.7-flash"
    stack.upstream.script(reasoner, Reply(hang=True))
    stream = sdk.chat.completions.create(model="phase/kill-test", messages=user("hang-up idea"), stream=True)
    for chunk in stream:
        event = (chunk.model_extra or {}).get("orchestration_event") or {}
        if event.get("event") == "model_finished":  # the fan-out is under way, the reasoner hangs
            break
    stream.close()
    assert stack.upstream.wait_idle(10)  # the model's own timeout is 90 s: only the cancel ends it
    hung = [c for c in stack.upstream.calls_for(reasoner) if "hang-up idea" in c.user]
    assert [c.ended for c in hung] == ["disconnected"]
