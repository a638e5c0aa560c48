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
    ContentRejected,
    Overloaded,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    UpstreamServerError,
)
from app.providers.openai_chat import OpenAIChatProvider
from app.providers.registry import minimax_endpoint
from app.settings import MiniMaxSettings
from app.transport import Transport
from tests.fakes.transport import at, reply

KEY = "mm-secret-key-123"
URL = "https://api.minimax.io/v1/chat/completions"
REQUEST = CompletionRequest(
    model="MiniMax-M2.7", prompt=Prompt("You plan.", "Plan it."), max_tokens=900, timeout_s=60
)


def provider(transport: Transport, key: str | None = KEY) -> OpenAIChatProvider:
    settings = MiniMaxSettings(_env_file=None, api_key=SecretStr(key) if key else None)
    return OpenAIChatProvider(minimax_endpoint(settings), transport)


def chat(message: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "trace-7",
        "object": "chat.completion",
        "model": "MiniMax-M2.7",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 11, "total_tokens": 41},
        "base_resp": {"status_code": 0, "status_msg": ""},
    }
    body.update(fields)
    return body


async def test_success_request_shape_and_text() -> None:
    transport = at(URL, reply(200, json=chat({"content": "the plan"})))
    schema = {"type": "object"}

    completion = await provider(transport).complete(dataclasses.replace(REQUEST, seed=3, json_schema=schema))

    sent = transport.last
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    # No response_format or seed: M2.x ignores JSON mode; the prompt carries the schema.
    assert json.loads(sent.content) == {
        "model": "MiniMax-M2.7",
        "messages": [
            {"role": "system", "content": "You plan."},
            {"role": "user", "content": "Plan it."},
        ],
        "max_completion_tokens": 900,
        "reasoning_split": True,
    }
    assert completion.text == "the plan"
    assert completion.usage == Usage(30, 11)
    assert completion.finish_reason == "stop"
    assert completion.upstream_request_id == "trace-7"


@pytest.mark.parametrize(("given", "sent"), [(0.0, 0.01), (1.7, 1.0), (0.7, 0.7)])
async def test_temperature_is_clamped_into_range(given: float, sent: float) -> None:
    transport = at(URL, reply(200, json=chat({"content": "x"})))

    await provider(transport).complete(dataclasses.replace(REQUEST, temperature=given))

    assert json.loads(transport.last.content)["temperature"] == sent


@pytest.mark.parametrize(
    ("message", "reasoning"),
    [
        pytest.param(
            {"content": '{"a": 1}', "reasoning_details": [{"type": "reasoning.text", "text": "hmm"}]},
            "hmm",
            id="reasoning_details",
        ),
        pytest.param({"content": '<think>\nhmm\n</think>\n\n{"a": 1}'}, "hmm", id="inline-think"),
        pytest.param({"content": '{"a": 1}', "reasoning_content": "hmm"}, "hmm", id="reasoning_content"),
    ],
)
async def test_reasoning_is_kept_out_of_the_text(message: dict[str, Any], reasoning: str) -> None:
    transport = at(URL, reply(200, json=chat(message)))

    completion = await provider(transport).complete(REQUEST)

    assert completion.text == '{"a": 1}'
    assert completion.reasoning == reasoning


@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        (2049, AuthenticationError),
        (1004, AuthenticationError),
        (1002, RateLimited),
        (1039, RateLimited),
        (1008, QuotaExceeded),
        (1026, ContentRejected),
        (1000, UpstreamServerError),
        (2013, BadRequest),
        (9999, BadRequest),
    ],
)
async def test_base_resp_error_with_http_200(code: int, error_class: type[ProviderError]) -> None:
    body = {"choices": None, "base_resp": {"status_code": code, "status_msg": "nope"}}
    transport = at(URL, reply(200, json=body))

    with pytest.raises(ProviderError) as caught:
        await provider(transport).complete(REQUEST)

    assert type(caught.value) is error_class
    assert caught.value.code == str(code)
    assert caught.value.message == "nope"


@pytest.mark.parametrize(
    ("status", "body", "error_class", "code"),
    [
        pytest.param(
            400,
            {"error": {"message": "invalid params, bad role (2013)", "type": "bad_request_error"}},
            BadRequest,
            "2013",
            id="openai-like-2013",
        ),
        pytest.param(
            500,
            {
                "type": "error",
                "error": {"type": "api_error", "message": "insufficient balance (1008)"},
            },
            QuotaExceeded,
            "1008",
            id="anthropic-like-1008-on-500",
        ),
        pytest.param(
            401,
            {"error": {"message": "login fail: invalid api key (2049)", "type": "auth_error"}},
            AuthenticationError,
            "2049",
            id="401-2049",
        ),
        pytest.param(500, {"error": {"message": "server went away"}}, UpstreamServerError, None, id="500"),
        pytest.param(529, {"error": {"message": "overloaded"}}, Overloaded, None, id="529"),
    ],
)
async def test_http_errors_refined_by_trailing_code(
    status: int,
    body: dict[str, Any],
    error_class: type[ProviderError],
    code: str | None,
) -> None:
    transport = at(URL, reply(status, json=body))

    with pytest.raises(ProviderError) as caught:
        await provider(transport).complete(REQUEST)

    assert type(caught.value) is error_class
    assert caught.value.code == code
    assert caught.value.status_code == status
    assert caught.value.message == body["error"]["message"]


@pytest.mark.parametrize(
    ("headers", "seconds"), [({"retry-after": "3"}, 3.0), ({"retry-after-ms": "800"}, 0.8)]
)
async def test_429_retry_after(headers: dict[str, str], seconds: float) -> None:
    body = {"error": {"message": "rate limit exceeded(RPM) (1002)"}}
    transport = at(URL, reply(429, json=body, headers=headers))

    with pytest.raises(RateLimited) as caught:
        await provider(transport).complete(REQUEST)

    assert caught.value.retry_after_s == seconds
    assert caught.value.code == "1002"


async def test_echoed_key_is_redacted() -> None:
    body = {"base_resp": {"status_code": 2049, "status_msg": f"invalid api key {KEY}"}}
    transport = at(URL, reply(200, json=body))

    with pytest.raises(AuthenticationError) as caught:
        await provider(transport).complete(REQUEST)

    assert KEY not in str(caught.value)
    assert caught.value.message == "invalid api key [redacted]"
