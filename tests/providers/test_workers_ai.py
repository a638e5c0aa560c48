from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pydantic import SecretStr

from app.domain import CompletionRequest, Prompt, Usage
from app.providers.errors import (
    AuthenticationError,
    BadRequest,
    ModelUnavailable,
    Overloaded,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    UpstreamServerError,
)
from app.providers.workers_ai import WorkersAIProvider
from app.settings import WorkersAISettings
from app.transport import Transport
from tests.fakes.transport import answering, at, reply

TOKEN = "cf-secret-token-123"
MODEL = "@cf/meta/llama-4-scout-17b-16e-instruct"
URL = f"https://api.cloudflare.com/client/v4/accounts/acct-1/ai/run/{MODEL}"
REQUEST = CompletionRequest(
    model=MODEL, prompt=Prompt("You plan.", "Plan it."), max_tokens=500, timeout_s=30.0
)


def settings(**overrides: Any) -> WorkersAISettings:
    values: dict[str, Any] = {"account_id": "acct-1", "api_token": SecretStr(TOKEN)}
    values.update(overrides)
    return WorkersAISettings(_env_file=None, **values)


def provider(transport: Transport, **overrides: Any) -> WorkersAIProvider:
    return WorkersAIProvider(settings(**overrides), transport)


def envelope(result: dict[str, Any]) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": []}


def failure(code: int, message: str) -> dict[str, Any]:
    return {"result": None, "success": False, "errors": [{"code": code, "message": message}]}


async def test_legacy_shape_sends_messages_form_and_parses_response() -> None:
    result = {"response": "the plan", "usage": {"prompt_tokens": 12, "completion_tokens": 3}}
    transport = at(URL, reply(200, json=envelope(result), headers={"cf-ray": "ray-1"}))

    completion = await provider(transport).complete(REQUEST)

    sent = transport.last
    assert str(sent.url) == URL
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert "cf-aig-authorization" not in sent.headers
    assert json.loads(sent.content) == {
        "messages": [
            {"role": "system", "content": "You plan."},
            {"role": "user", "content": "Plan it."},
        ],
        "max_tokens": 500,
    }
    assert completion.text == "the plan"
    assert completion.usage == Usage(12, 3)
    assert completion.finish_reason == "stop"
    assert completion.reasoning is None
    assert completion.upstream_request_id == "ray-1"


async def test_optional_fields_gateway_and_native_json_schema() -> None:
    gateway = "https://gateway.ai.cloudflare.com/v1/{account_id}/gw/workers-ai/"
    transport = at(
        f"https://gateway.ai.cloudflare.com/v1/acct-1/gw/workers-ai/{MODEL}",
        reply(200, json=envelope({"response": "ok"})),
    )
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    request = dataclasses.replace(REQUEST, temperature=0.2, seed=42, json_schema=schema)

    await provider(transport, base_url=gateway, gateway_token=SecretStr("gw-secret")).complete(request)

    sent = transport.last
    assert sent.headers["cf-aig-authorization"] == "Bearer gw-secret"
    body = json.loads(sent.content)
    assert body["temperature"] == 0.2
    assert body["seed"] == 42
    # Native /ai/run takes the schema itself, not OpenAI's {name, schema} wrapper.
    assert body["response_format"] == {"type": "json_schema", "json_schema": schema}


async def test_openai_shape_result() -> None:
    result = {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "glm says"}, "finish_reason": "length"}
        ],
        "usage": {"prompt_tokens": 40, "completion_tokens": 500, "total_tokens": 540},
    }
    transport = at(URL, reply(200, json=envelope(result)))

    completion = await provider(transport).complete(REQUEST)

    assert completion.text == "glm says"
    assert completion.usage == Usage(40, 500)
    assert completion.finish_reason == "length"
    assert completion.upstream_request_id == "chatcmpl-9"


async def test_json_mode_object_response_is_serialised() -> None:
    answer = {"name": "Acme", "scores": [1, 2]}
    transport = at(URL, reply(200, json=envelope({"response": answer})))

    completion = await provider(transport).complete(REQUEST)

    assert json.loads(completion.text) == answer


async def test_missing_usage_is_estimated() -> None:
    transport = at(URL, reply(200, json=envelope({"response": "x" * 40})))

    completion = await provider(transport).complete(REQUEST)

    prompt_chars = len("You plan.") + len("Plan it.")
    assert completion.usage == Usage(prompt_chars // 4, 10, estimated=True)
    assert completion.finish_reason == "stop"


async def test_legacy_shape_infers_length_when_every_token_was_used() -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": REQUEST.max_tokens}
    transport = at(URL, reply(200, json=envelope({"response": "cut of", "usage": usage})))

    completion = await provider(transport).complete(REQUEST)

    assert completion.finish_reason == "length"


async def test_r1_think_block_without_opening_tag() -> None:
    text = 'The user wants JSON. Let me think.\n</think>\n\n{"ok": true}'
    transport = at(URL, reply(200, json=envelope({"response": text})))

    completion = await provider(transport).complete(REQUEST)

    assert completion.text == '{"ok": true}'
    assert completion.reasoning == "The user wants JSON. Let me think."


@pytest.mark.parametrize(
    ("status", "body", "error_class", "code"),
    [
        pytest.param(429, failure(3040, "Capacity temporarily exceeded"), RateLimited, "3040", id="3040"),
        pytest.param(429, failure(3036, "daily free allocation used"), QuotaExceeded, "3036", id="3036"),
        pytest.param(403, failure(5035, "requires Workers Paid"), QuotaExceeded, "5035", id="5035"),
        pytest.param(408, failure(3007, "timeout"), UpstreamServerError, "3007", id="3007"),
        pytest.param(401, failure(10000, "Authentication error"), AuthenticationError, "10000", id="auth"),
        pytest.param(400, failure(5007, "No such model"), ModelUnavailable, "5007", id="5007"),
        pytest.param(404, failure(3042, "Invalid model"), ModelUnavailable, "3042", id="3042"),
        pytest.param(400, failure(3003, "Bad input"), BadRequest, "3003", id="3003"),
        pytest.param(
            200, failure(3040, "Capacity temporarily exceeded"), RateLimited, "3040", id="200-false"
        ),
        pytest.param(500, {"errors": []}, UpstreamServerError, None, id="500"),
        pytest.param(503, None, Overloaded, None, id="503-html"),
    ],
)
async def test_errors_classified_by_code_then_status(
    status: int,
    body: dict[str, Any] | None,
    error_class: type[ProviderError],
    code: str | None,
) -> None:
    if body is None:
        transport = at(URL, reply(status, text="<html>busy</html>"))
    else:
        transport = at(URL, reply(status, json=body))

    with pytest.raises(ProviderError) as caught:
        await provider(transport).complete(REQUEST)

    assert type(caught.value) is error_class
    assert caught.value.code == code
    assert caught.value.status_code == status
    assert caught.value.provider == "workers_ai"
    if body and body["errors"]:
        assert body["errors"][0]["message"] in caught.value.message


@pytest.mark.parametrize(("code", "retryable"), [(3040, True), (3036, False)])
async def test_capacity_is_retryable_but_daily_allocation_is_not(code: int, retryable: bool) -> None:
    transport = at(URL, reply(429, json=failure(code, "no")))

    with pytest.raises(ProviderError) as caught:
        await provider(transport).complete(REQUEST)

    assert caught.value.retryable is retryable


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({}, ()),
        ({"account_id": None}, ("WORKERS_AI_ACCOUNT_ID",)),
        ({"account_id": None, "api_token": None}, ("WORKERS_AI_ACCOUNT_ID", "WORKERS_AI_API_TOKEN")),
    ],
)
async def test_availability(overrides: dict[str, Any], missing: tuple[str, ...]) -> None:
    adapter = WorkersAIProvider(settings(**overrides), answering(reply()))
    assert adapter.missing_settings == missing
    assert adapter.available is (not missing)
    assert adapter.default_model is None
