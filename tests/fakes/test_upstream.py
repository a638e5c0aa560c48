"""The fake upstream, exercised through the real provider adapters over real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.domain import CompletionRequest, Prompt
from app.main import create_app
from app.providers.errors import (
    AuthenticationError,
    ContextOverflow,
    ModelUnavailable,
    Overloaded,
    ProviderConnectionError,
    ProviderResponseError,
    ProviderTimeout,
    QuotaExceeded,
    RateLimited,
    UpstreamServerError,
)
from app.providers.registry import ProviderRegistry
from app.settings import AnthropicSettings, MiniMaxSettings, OpenAICompatSettings, Settings, WorkersAISettings
from app.transport import Transport
from app.upstream_http import upstream_client
from tests.fakes.upstream import Call, FakeUpstream, Reply, default_responder, dress, env_lines, running
from tests.support import client_for, fixture, make_settings, upstream_settings

PHASE = "kill-test"
ANSWER = {"verdict": "GO", "reasons": ["freight brokers overpay"]}
ANSWER_TEXT = json.dumps(ANSWER, indent=2)
SYSTEM = "You are a planning analyst."
USER = "## Idea\nAI agent that audits freight invoices"

R1 = "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
QWEN3 = "@cf/qwen/qwen3-30b-a3b-fp8"
GLM = "@cf/zai-org/glm-4.7-flash"
CLAUDE = "claude-sonnet-4-5"
MINIMAX = "MiniMax-M2.7"
LOCAL = "local-gemma"
MODELS = {"workers_ai": QWEN3, "anthropic": CLAUDE, "minimax": MINIMAX, "openai_compat": LOCAL}
WIRES = tuple(MODELS)


def request(model: str, *, timeout_s: float = 10, **fields: Any) -> CompletionRequest:
    return CompletionRequest(
        model=model,
        prompt=Prompt(SYSTEM, USER),
        max_tokens=900,
        timeout_s=timeout_s,
        temperature=0.5,
        **fields,
    )


def settings_for(urls: dict[str, str], *, openai_key: str | None = None) -> Settings:
    return Settings(
        _env_file=None,
        workers_ai=WorkersAISettings(
            _env_file=None, account_id="acct-1", api_token=SecretStr("cf-key"), base_url=urls["workers_ai"]
        ),
        anthropic=AnthropicSettings(_env_file=None, api_key=SecretStr("ant-key"), base_url=urls["anthropic"]),
        minimax=MiniMaxSettings(_env_file=None, api_key=SecretStr("mm-key"), base_url=urls["minimax"]),
        openai_compat=OpenAICompatSettings(
            _env_file=None,
            base_url=urls["openai_compat"],
            api_key=SecretStr(openai_key) if openai_key else None,
            model=LOCAL,
        ),
    )


@pytest.fixture
def fixtures(tmp_path: Path) -> Path:
    """A phase-output fixture of our own, so these tests do not depend on the shared ones."""
    folder = tmp_path / "phase_outputs"
    folder.mkdir()
    (folder / f"{PHASE}.json").write_text(ANSWER_TEXT + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def upstream(fixtures: Path) -> Iterator[FakeUpstream]:
    fake = FakeUpstream(fixtures=fixtures)
    with running(fake):
        yield fake


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as shared:
        yield shared


@pytest.fixture
async def transport() -> AsyncIterator[Transport]:
    """httpx's pool, as HTTP_BACKEND=httpx builds it (these tests name httpx's error classes)."""
    async with upstream_client(make_settings(http_backend="httpx")) as shared:
        yield shared


@pytest.fixture
def registry(upstream: FakeUpstream, transport: Transport) -> ProviderRegistry:
    """The adapters exactly as the service builds them."""
    return ProviderRegistry.from_settings(settings_for(upstream.base_urls()), transport)


# ---- success on every wire --------------------------------------------------------------------


@pytest.mark.parametrize("wire", WIRES)
async def test_each_wire_answers_with_the_fixture_and_usage(
    wire: str, upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    completion = await registry.get(wire).complete(request(MODELS[wire]))

    assert json.loads(completion.text) == ANSWER
    assert completion.usage.input_tokens > 0 and completion.usage.output_tokens > 0
    assert not completion.usage.estimated
    assert completion.finish_reason == "stop"
    assert completion.upstream_request_id
    [call] = upstream.calls
    assert (call.wire, call.model, call.system, call.user) == (wire, MODELS[wire], SYSTEM, USER)
    assert upstream.problems == []


async def test_r1_reasoning_arrives_without_the_opening_tag_and_is_split_off(
    upstream: FakeUpstream, registry: ProviderRegistry, client: httpx.AsyncClient
) -> None:
    completion = await registry.get("workers_ai").complete(request(R1))

    assert json.loads(completion.text) == ANSWER
    assert completion.reasoning and "think" not in completion.reasoning
    raw = await client.post(
        upstream.base_urls()["workers_ai"].replace("{account_id}", "acct-1") + f"/{R1}",
        headers={"Authorization": "Bearer cf-key"},
        json={"messages": [{"role": "user", "content": USER}], "max_tokens": 100},
    )
    text = raw.json()["result"]["response"]
    assert "</think>" in text and "<think>" not in text
    assert text.rstrip().endswith(ANSWER_TEXT)


async def test_llama_wraps_the_json_in_prose_and_a_fence(registry: ProviderRegistry) -> None:
    completion = await registry.get("workers_ai").complete(request(SCOUT))

    assert completion.text.startswith("Here is the kill-test analysis")
    assert f"```json\n{ANSWER_TEXT}\n```" in completion.text


async def test_minimax_thinking_goes_to_reasoning_details(
    upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    completion = await registry.get("minimax").complete(request(MINIMAX))

    assert upstream.calls[0].body["reasoning_split"] is True
    assert completion.reasoning and "<think>" not in completion.text


async def test_workers_ai_openai_shaped_model_and_json_mode(registry: ProviderRegistry) -> None:
    provider = registry.get("workers_ai")

    glm = await provider.complete(request(GLM))
    json_mode = await provider.complete(request(QWEN3, json_schema={"type": "object"}))

    assert json.loads(glm.text) == ANSWER and glm.upstream_request_id  # cf-ray
    assert json.loads(json_mode.text) == ANSWER


SHAPES = [
    pytest.param("workers_ai", QWEN3, id="workers_ai-legacy"),
    pytest.param("workers_ai", GLM, id="workers_ai-openai-shape"),
    pytest.param("anthropic", CLAUDE, id="anthropic"),
    pytest.param("minimax", MINIMAX, id="minimax"),
    pytest.param("openai_compat", LOCAL, id="openai_compat"),
]
"""Every wire, and both of Workers AI's result shapes."""
DRAFT = 'The idea looks strong. Draft: {"verdict": "GO", "reasons": ["brokers overpay"]} but wait, the'


@pytest.mark.parametrize(("wire", "model"), SHAPES)
async def test_truncated_reply_reports_length(
    wire: str, model: str, upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(model, Reply(text='{"verdict": "GO", "rea', truncated=True))

    completion = await registry.get(wire).complete(request(model))

    assert completion.finish_reason == "length" and completion.truncated
    assert completion.text == '{"verdict": "GO", "rea'
    assert completion.usage.output_tokens == 900
    assert not completion.reasoning_unfinished
    assert upstream.calls[0].ended == "answered"


@pytest.mark.parametrize(("wire", "model"), SHAPES)
@pytest.mark.parametrize("truncated", [True, False], ids=["length-stop", "normal-stop"])
async def test_reasoning_only_reply_has_no_answer(
    wire: str, model: str, truncated: bool, upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(model, Reply(text=DRAFT, reasoning_only=True, truncated=truncated))

    completion = await registry.get(wire).complete(request(model))

    assert completion.text == ""  # the draft inside the reasoning is never the answer
    assert completion.reasoning == DRAFT
    assert completion.reasoning_unfinished
    assert completion.truncated is truncated
    assert upstream.problems == []


async def test_reasoning_only_with_the_responders_text(
    upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(CLAUDE, Reply(reasoning_only=True, truncated=True))

    completion = await registry.get("anthropic").complete(request(CLAUDE))

    assert completion.text == "" and completion.reasoning is not None
    assert json.loads(completion.reasoning) == ANSWER  # a complete draft, still only a thought


@pytest.mark.parametrize(("wire", "model"), SHAPES)
async def test_context_overflow_in_each_wires_shape(
    wire: str, model: str, upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(model, Reply(context_overflow=True, headers={"x-test": "1"}))

    with pytest.raises(ContextOverflow) as caught:
        await registry.get(wire).complete(request(model))

    assert caught.value.kind == "context_overflow" and not caught.value.retryable
    assert caught.value.status_code == 400
    [call] = upstream.calls
    assert call.ended == "error"
    assert upstream.problems == []


@pytest.mark.parametrize(("wire", "model"), SHAPES)
async def test_model_not_found_in_each_wires_shape(
    wire: str, model: str, upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(model, Reply(model_not_found=True))

    with pytest.raises(ModelUnavailable) as caught:
        await registry.get(wire).complete(request(model))

    assert caught.value.kind == "model_unavailable" and not caught.value.retryable
    assert model in caught.value.message  # each provider names the id it does not know
    assert upstream.calls[0].ended == "error"


async def test_the_fault_shapes_are_the_documented_ones(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script(CLAUDE, Reply(context_overflow=True), Reply(model_not_found=True))
    url = upstream.base_urls()["anthropic"] + "/v1/messages"
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    body = {"model": CLAUDE, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}

    overflow = await client.post(url, headers=headers, json=body)
    missing = await client.post(url, headers=headers, json=body)

    assert overflow.status_code == 400 and overflow.headers["request-id"].startswith("req_fake")
    assert overflow.json()["error"]["type"] == "invalid_request_error"
    assert overflow.json()["error"]["message"].startswith("prompt is too long: ")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"type": "not_found_error", "message": f"model: {CLAUDE}"}


async def test_the_service_sends_only_standard_schema_keywords(upstream: FakeUpstream) -> None:
    app = create_app(upstream_settings(upstream.base_urls()))
    async with client_for(app) as client:
        response = await client.post(f"/phases/{PHASE}/orchestrate", json={"idea": "freight audit agent"})
        published = (await client.get(f"/phases/{PHASE}")).json()["output_schema"]

    assert response.status_code in (200, 502)  # the schema sent is what matters here, not the answer
    schemas = [
        c.body["response_format"]["json_schema"]["schema"]
        for c in upstream.calls
        if "response_format" in c.body
    ]
    assert schemas, "no structured-output call was made"
    assert _annotations(published)  # the published contract keeps its annotations for people
    for schema in schemas:
        assert not _annotations(schema), _annotations(schema)
        assert "$schema" not in schema and "$id" not in schema


def _annotations(schema: Any) -> list[str]:
    """Every ``x-`` keyword in a schema (walking by keyword, not by property name)."""
    found: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key.startswith("x-"):
                found.append(key)
            elif key == "properties" and isinstance(value, dict):
                found.extend(k for v in value.values() for k in _annotations(v))
            elif key not in ("enum", "const", "default", "examples"):
                found.extend(_annotations(value))
    elif isinstance(schema, list):
        found.extend(k for v in schema for k in _annotations(v))
    return found


# ---- scripting --------------------------------------------------------------------------------


async def test_script_is_fifo_per_model_then_the_responder(
    upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(CLAUDE, Reply(text="first", usage=(11, 3)), Reply(text="second"))
    anthropic = registry.get("anthropic")

    answers = [await anthropic.complete(request(CLAUDE)) for _ in range(3)]

    assert [a.text for a in answers[:2]] == ["first", "second"]
    assert (answers[0].usage.input_tokens, answers[0].usage.output_tokens) == (11, 3)
    assert json.loads(answers[2].text) == ANSWER
    assert upstream.pending(CLAUDE) == 0
    assert len(upstream.calls_for(CLAUDE)) == 3


async def test_custom_responder_and_text_none(fixtures: Path, transport: Transport) -> None:
    seen: list[Call] = []

    def responder(call: Call) -> str:
        seen.append(call)
        return f"echo {call.model}"

    fake = FakeUpstream(responder)
    fake.script(LOCAL, Reply(text=None, delay_s=0.05))
    with running(fake):
        registry = ProviderRegistry.from_settings(settings_for(fake.base_urls()), transport)
        completion = await registry.get("openai_compat").complete(request(LOCAL))

    assert completion.text == f"echo {LOCAL}"
    assert [c.wire for c in seen] == ["openai_compat"]
    assert fake.origin is None  # stopped


def test_default_responder_answers_every_call_with_its_phase_fixture(fixtures: Path) -> None:
    def call(model: str, user: str = USER) -> Call:
        return Call("workers_ai", model, SYSTEM, user, {}, {})

    (fixtures / "strategy.json").write_text('{"positioning": "x"}\n', encoding="utf-8")
    assert default_responder(call(QWEN3), fixtures=fixtures) == ANSWER_TEXT
    assert default_responder(call(R1), fixtures=fixtures) == dress(R1, ANSWER_TEXT, PHASE)
    judge = "## The task every analyst was given\n..."  # the prompt's wording changes nothing
    assert default_responder(call(CLAUDE, judge), fixtures=fixtures) == ANSWER_TEXT
    assert default_responder(call(QWEN3), phase="strategy", fixtures=fixtures) == '{"positioning": "x"}'
    with pytest.raises(FileNotFoundError):
        default_responder(call(QWEN3), phase="no-such-phase", fixtures=fixtures)


async def test_the_phase_answered_can_change_between_requests(
    fixtures: Path, upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    (fixtures / "strategy.json").write_text('{"positioning": "x"}\n', encoding="utf-8")
    first = await registry.get("openai_compat").complete(request(LOCAL))
    upstream.phase = "strategy"
    second = await registry.get("openai_compat").complete(request(LOCAL))
    assert json.loads(first.text) == ANSWER and json.loads(second.text) == {"positioning": "x"}


# ---- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("wire", WIRES)
async def test_scripted_429_with_retry_after_is_a_rate_limit(
    wire: str, upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(MODELS[wire], Reply(status=429, headers={"Retry-After": "7"}))

    with pytest.raises(RateLimited) as caught:
        await registry.get(wire).complete(request(MODELS[wire]))

    assert caught.value.status_code == 429
    assert caught.value.retry_after_s == 7
    assert caught.value.retryable


async def test_workers_ai_capacity_code_and_daily_quota(
    upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(QWEN3, Reply(status=429, error_code=3040), Reply(status=429, error_code=3036))
    provider = registry.get("workers_ai")

    with pytest.raises(RateLimited) as capacity:
        await provider.complete(request(QWEN3))
    with pytest.raises(QuotaExceeded) as quota:
        await provider.complete(request(QWEN3))

    assert capacity.value.code == "3040" and "Capacity temporarily exceeded" in str(capacity.value)
    assert quota.value.code == "3036" and not quota.value.retryable


async def test_workers_ai_success_false_with_http_200(
    upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(QWEN3, Reply(error_code=5007))

    with pytest.raises(ModelUnavailable) as caught:
        await registry.get("workers_ai").complete(request(QWEN3))

    assert caught.value.status_code == 200 and caught.value.code == "5007"


@pytest.mark.parametrize(
    ("code", "error"), [(1002, RateLimited), (1008, QuotaExceeded), (2049, AuthenticationError)]
)
async def test_minimax_base_resp_error_with_http_200(
    code: int, error: type[Exception], upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(MINIMAX, Reply(error_code=code))

    with pytest.raises(error) as caught:
        await registry.get("minimax").complete(request(MINIMAX))

    assert f"[{code}]" in str(caught.value) and "HTTP 200" in str(caught.value)


async def test_minimax_http_error_carries_the_code_at_the_end_of_the_message(
    upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(MINIMAX, Reply(status=500, error_code=1008))

    with pytest.raises(QuotaExceeded) as caught:  # the code, not the 500, decides
        await registry.get("minimax").complete(request(MINIMAX))

    assert caught.value.status_code == 500 and caught.value.code == "1008"


async def test_anthropic_overloaded_and_openai_error_body_verbatim(
    upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(CLAUDE, Reply(status=529))
    body = {
        "error": {"message": "You exceeded your current quota", "type": "x", "code": "insufficient_quota"}
    }
    upstream.script(LOCAL, Reply(status=429, error_body=body))

    with pytest.raises(Overloaded, match="Overloaded") as overloaded:
        await registry.get("anthropic").complete(request(CLAUDE))
    with pytest.raises(QuotaExceeded, match="exceeded your current quota"):
        await registry.get("openai_compat").complete(request(LOCAL))

    assert overloaded.value.status_code == 529 and overloaded.value.code == "overloaded_error"


@pytest.mark.parametrize("wire", WIRES)
async def test_raw_malformed_body_is_a_response_error(
    wire: str, upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(MODELS[wire], Reply(raw_body='{"result": {"response": "cut of'))

    with pytest.raises(ProviderResponseError, match="not JSON"):
        await registry.get(wire).complete(request(MODELS[wire]))


async def test_delay_beyond_the_timeout_is_a_timeout(
    upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(CLAUDE, Reply(delay_s=30))
    started = time.monotonic()

    with pytest.raises(ProviderTimeout):
        await registry.get("anthropic").complete(request(CLAUDE, timeout_s=0.3))

    assert time.monotonic() - started < 15  # and the fixture's shutdown does not wait 30 s either


async def test_broken_responder_is_a_500_and_a_problem(
    upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.phase = "no-such-phase"  # the default responder finds no fixture for it

    with pytest.raises(UpstreamServerError, match="responder failed"):
        await registry.get("workers_ai").complete(request(QWEN3))

    assert len(upstream.problems) == 1 and "FileNotFoundError" in upstream.problems[0]


# ---- requests the real APIs would reject ------------------------------------------------------


async def test_missing_credentials_get_each_wires_401(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    urls = upstream.base_urls()
    chat = {"model": "m", "messages": [{"role": "user", "content": USER}], "max_tokens": 10}

    workers = await client.post(urls["workers_ai"].replace("{account_id}", "a") + f"/{QWEN3}", json=chat)
    anthropic = await client.post(urls["anthropic"] + "/v1/messages", json=chat)
    no_version = await client.post(urls["anthropic"] + "/v1/messages", json=chat, headers={"x-api-key": "k"})
    minimax = await client.post(urls["minimax"] + "/chat/completions", json=chat)
    openai = await client.post(urls["openai_compat"] + "/chat/completions", json=chat)

    assert workers.status_code == 401 and workers.json()["errors"][0]["code"] == 10000
    assert workers.json()["success"] is False
    assert anthropic.status_code == 401 and anthropic.json()["error"]["type"] == "authentication_error"
    assert no_version.status_code == 400 and no_version.json()["error"]["type"] == "invalid_request_error"
    assert minimax.status_code == 401 and minimax.json()["error"]["message"].endswith("(1004)")
    assert openai.status_code == 200  # local servers need no key
    assert len(upstream.problems) == 4 and len(upstream.calls) == 5


async def test_minimax_rejects_a_late_system_message(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    body = {
        "model": MINIMAX,
        "messages": [{"role": "user", "content": USER}, {"role": "system", "content": SYSTEM}],
    }

    response = await client.post(
        upstream.base_urls()["minimax"] + "/chat/completions",
        json=body,
        headers={"Authorization": "Bearer k"},
    )

    assert response.status_code == 400 and response.json()["error"]["message"].endswith("(2013)")


async def test_requests_carry_what_the_adapters_send(upstream: FakeUpstream, transport: Transport) -> None:
    registry = ProviderRegistry.from_settings(
        settings_for(upstream.base_urls(), openai_key="oa-key"), transport
    )
    for wire in WIRES:
        await registry.get(wire).complete(request(MODELS[wire]))

    calls = {c.wire: c for c in upstream.calls}
    assert calls["workers_ai"].headers["authorization"] == "Bearer cf-key"
    assert calls["workers_ai"].path == f"/client/v4/accounts/acct-1/ai/run/{QWEN3}"
    assert calls["workers_ai"].body["max_tokens"] == 900
    assert calls["anthropic"].headers["x-api-key"] == "ant-key"
    assert calls["anthropic"].headers["anthropic-version"] == "2023-06-01"
    assert calls["anthropic"].body["system"] == SYSTEM
    assert calls["minimax"].headers["authorization"] == "Bearer mm-key"
    assert calls["minimax"].body["max_completion_tokens"] == 900
    assert calls["openai_compat"].headers["authorization"] == "Bearer oa-key"
    assert all((c.system, c.user) == (SYSTEM, USER) for c in upstream.calls)
    assert upstream.problems == []


# ---- faults: hangs, disconnects, resets, truncation, accounting --------------------------------

CHAT = {"model": LOCAL, "messages": [{"role": "user", "content": USER}], "max_tokens": 100}


async def post_chat(
    client: httpx.AsyncClient, upstream: FakeUpstream, timeout_s: float = 10
) -> httpx.Response:
    """One plain OpenAI-compatible request, no adapter in between."""
    return await client.post(
        upstream.base_urls()["openai_compat"] + "/chat/completions", json=CHAT, timeout=timeout_s
    )


async def until(predicate: Any, timeout_s: float = 5) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def causes(exc: BaseException) -> list[type[BaseException]]:
    chain: list[type[BaseException]] = []
    current: BaseException | None = exc
    while current is not None:
        chain.append(type(current))
        current = current.__cause__ or current.__context__
    return chain


async def test_a_hang_ends_when_the_client_times_out(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script(LOCAL, Reply(hang=True))

    with pytest.raises(httpx.ReadTimeout):
        await post_chat(client, upstream, timeout_s=0.3)

    assert upstream.wait_idle(5.0), f"still in flight: {upstream.in_flight}"
    [call] = upstream.calls
    assert call.ended == "disconnected"


async def test_a_delay_ends_early_when_the_client_gives_up(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script(LOCAL, Reply(delay_s=30))
    started = time.monotonic()

    with pytest.raises(httpx.ReadTimeout):
        await post_chat(client, upstream, timeout_s=0.2)

    assert upstream.wait_idle(5.0)
    assert time.monotonic() - started < 15  # not the 30 s delay
    assert upstream.calls[0].ended == "disconnected"


async def test_cancelled_callers_free_every_hanging_request(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script(LOCAL, *[Reply(hang=True)] * 3)
    tasks = [asyncio.create_task(post_chat(client, upstream)) for _ in range(3)]
    await until(lambda: upstream.in_flight == 3)

    assert not upstream.wait_idle(0.1)  # hanging for real
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert upstream.wait_idle(5.0)
    assert [c.ended for c in upstream.calls] == ["disconnected"] * 3


async def test_a_hang_ends_when_the_server_stops(fixtures: Path, client: httpx.AsyncClient) -> None:
    fake = FakeUpstream(fixtures=fixtures)
    fake.script(LOCAL, Reply(hang=True))
    with running(fake):
        task = asyncio.create_task(post_chat(client, fake, timeout_s=30))
        await until(lambda: fake.in_flight == 1)
        started = time.monotonic()
    stopped_in = time.monotonic() - started

    with pytest.raises(httpx.ReadError):  # the fake resets the connection rather than answer
        await task
    assert stopped_in < 4 and fake.in_flight == 0  # not uvicorn's 5 s graceful-shutdown timeout
    assert fake.calls[0].ended == "stopped"


@pytest.mark.parametrize("delay_s", [0, 0.1])
async def test_reset_is_a_read_error_from_a_connection_reset(
    delay_s: float, upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script(LOCAL, Reply(reset=True, delay_s=delay_s))

    with pytest.raises(httpx.ReadError) as caught:
        await post_chat(client, upstream)

    assert ConnectionResetError in causes(caught.value)
    assert upstream.wait_idle(5.0)
    assert upstream.calls[0].ended == "reset"
    assert (await post_chat(client, upstream)).status_code == 200  # the pool recovers
    assert [c.ended for c in upstream.calls] == ["reset", "answered"]


@pytest.mark.parametrize("reply", [Reply(truncate=True), Reply(truncate=True, status=429)])
async def test_truncate_is_a_remote_protocol_error(
    reply: Reply, upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script(LOCAL, reply)

    with pytest.raises(
        httpx.RemoteProtocolError, match=r"peer closed connection without sending complete message body"
    ):
        await post_chat(client, upstream)

    assert upstream.wait_idle(5.0)
    assert upstream.calls[0].ended == "truncated"
    assert (await post_chat(client, upstream)).status_code == 200


async def test_streamed_truncation_shows_the_status_headers_and_half_the_body(
    upstream: FakeUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script(LOCAL, Reply(text="x" * 400, truncate=True))
    url = upstream.base_urls()["openai_compat"] + "/chat/completions"
    chunks: list[bytes] = []

    async def read(response: httpx.Response) -> None:
        async for chunk in response.aiter_raw():
            chunks.append(chunk)

    async with client.stream("POST", url, json=CHAT) as response:
        with pytest.raises(httpx.RemoteProtocolError):
            await read(response)
    received = b"".join(chunks)

    assert response.status_code == 200
    assert len(received) == int(response.headers["content-length"]) // 2
    assert received.startswith(b'{"id":"chatcmpl-fake')


@pytest.mark.parametrize(
    ("reply", "error"),
    [(Reply(reset=True), "ReadError"), (Reply(truncate=True), "RemoteProtocolError")],
)
async def test_the_adapters_see_reset_and_truncation_as_connection_errors(
    reply: Reply, error: str, upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(CLAUDE, reply)

    with pytest.raises(ProviderConnectionError, match=error):
        await registry.get("anthropic").complete(request(CLAUDE))

    assert len(upstream.calls_for(CLAUDE)) == 1


async def test_an_adapter_timeout_frees_a_hanging_upstream(
    upstream: FakeUpstream, registry: ProviderRegistry
) -> None:
    upstream.script(MINIMAX, Reply(hang=True))

    with pytest.raises(ProviderTimeout):
        await registry.get("minimax").complete(request(MINIMAX, timeout_s=0.3))

    assert upstream.wait_idle(5.0)
    assert [c.ended for c in upstream.calls_for(MINIMAX)] == ["disconnected"]


async def test_ended_tells_answers_from_errors(upstream: FakeUpstream, client: httpx.AsyncClient) -> None:
    upstream.script(
        LOCAL,
        Reply(),
        Reply(status=500),
        Reply(status=429, headers={"Retry-After": "3"}),
        Reply(raw_body="{not json"),
        Reply(raw_body="oops", status=502),
        Reply(error_body={"error": "x"}, status=400),
    )
    upstream.script(MINIMAX, Reply(error_code=1002))  # base_resp error with HTTP 200

    statuses = [(await post_chat(client, upstream)).status_code for _ in range(6)]
    minimax = await client.post(
        upstream.base_urls()["minimax"] + "/chat/completions",
        json={**CHAT, "model": MINIMAX},
        headers={"Authorization": "Bearer k"},
    )
    unauthenticated = await client.post(upstream.base_urls()["minimax"] + "/chat/completions", json=CHAT)

    assert statuses == [200, 500, 429, 200, 502, 400]
    assert minimax.status_code == 200 and minimax.json()["base_resp"]["status_code"] == 1002
    assert unauthenticated.status_code == 401
    assert [c.ended for c in upstream.calls] == [
        "answered",
        "error",
        "error",
        "answered",
        "error",
        "error",
        "error",
        "error",
    ]
    # The count drops once the last byte is sent, which can be just after the client has read it.
    await until(lambda: upstream.in_flight == 0)


async def test_reset_needs_the_server(fixtures: Path) -> None:
    """Served in-process (no uvicorn, no socket) the fake cannot reset, and says so."""
    fake = FakeUpstream(fixtures=fixtures)
    fake.script(LOCAL, Reply(reset=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(fake), base_url="http://fake") as asgi:
        with pytest.raises(RuntimeError, match="need the server"):
            await asgi.post("/openai/v1/chat/completions", json=CHAT)

    assert fake.in_flight == 0


# ---- the command line -------------------------------------------------------------------------


def test_env_lines_name_the_settings_variables() -> None:
    lines = dict(line.split("=", 1) for line in env_lines("http://127.0.0.1:9100"))

    assert lines["WORKERS_AI_BASE_URL"] == "http://127.0.0.1:9100/client/v4/accounts/{account_id}/ai/run"
    assert lines["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9100/anthropic"
    assert lines["MINIMAX_BASE_URL"] == "http://127.0.0.1:9100/minimax/v1"
    assert lines["OPENAI_COMPAT_BASE_URL"] == "http://127.0.0.1:9100/openai/v1"
    assert {"WORKERS_AI_ACCOUNT_ID", "WORKERS_AI_API_TOKEN", "ANTHROPIC_API_KEY", "MINIMAX_API_KEY"} <= set(
        lines
    )


def test_cli_serves_and_prints_the_base_urls() -> None:
    from tests.fakes.upstream import _free_port

    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    with subprocess.Popen(  # noqa: S603 -- a fixed argv: this interpreter and module
        [sys.executable, "-m", "tests.fakes.upstream", "--port", str(port), "--phase", "strategy"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            banner = ""
            while "OPENAI_COMPAT_MODEL" not in banner:
                line = process.stdout.readline()
                assert line, f"the CLI exited early: {banner!r}"
                banner += line
            deadline = time.monotonic() + 15
            while True:
                try:
                    response = httpx.post(
                        f"http://127.0.0.1:{port}/openai/v1/chat/completions",
                        json={"model": LOCAL, "messages": [{"role": "user", "content": "Any question"}]},
                    )
                    break
                except httpx.ConnectError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        finally:
            process.terminate()
            process.wait(timeout=10)

    assert f"http://127.0.0.1:{port}/anthropic" in banner
    assert f"ANTHROPIC_BASE_URL=http://127.0.0.1:{port}/anthropic" in banner
    assert "answering as strategy" in banner
    assert json.loads(response.json()["choices"][0]["message"]["content"]) == fixture("strategy")
