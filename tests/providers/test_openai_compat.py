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
    Overloaded,
    ProviderError,
    ProviderResponseError,
    QuotaExceeded,
    UpstreamServerError,
)
from app.providers.openai_chat import OpenAIChatProvider
from app.providers.registry import openai_compat_endpoint
from app.settings import OpenAICompatSettings
from app.transport import Answer, Transport
from tests.fakes.transport import answering, at, reply

KEY = "sk-proj-secret-123"
BASE = "http://127.0.0.1:8080/v1"
URL = f"{BASE}/chat/completions"
REQUEST = CompletionRequest(
    model="qwen3-32b", prompt=Prompt("You plan.", "Plan it."), max_tokens=700, timeout_s=60
)


def provider(
    transport: Transport, *, key: str | None = KEY, base_url: str | None = BASE
) -> OpenAIChatProvider:
    settings = OpenAICompatSettings(
        _env_file=None, base_url=base_url, api_key=SecretStr(key) if key else None
    )
    return OpenAIChatProvider(openai_compat_endpoint(settings), transport)


def chat(message: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 25, "completion_tokens": 6, "total_tokens": 31},
    }
    body.update(fields)
    return body


async def test_success_request_shape_and_text() -> None:
    transport = at(URL, reply(200, json=chat({"content": " the plan "})))

    completion = await provider(transport).complete(REQUEST)

    sent = transport.last
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(sent.content) == {
        "model": "qwen3-32b",
        "messages": [
            {"role": "system", "content": "You plan."},
            {"role": "user", "content": "Plan it."},
        ],
        "max_tokens": 700,
    }
    assert completion.text == "the plan"
    assert completion.usage == Usage(25, 6)
    assert completion.finish_reason == "stop"
    assert completion.upstream_request_id == "chatcmpl-1"


async def test_no_key_sends_no_authorization() -> None:
    transport = at(URL, reply(200, json=chat({"content": "ok"})))

    await provider(transport, key=None).complete(REQUEST)

    assert "authorization" not in transport.last.headers


async def test_optional_fields_and_json_schema_wrapper() -> None:
    transport = at(URL, reply(200, json=chat({"content": "{}"})))
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    request = dataclasses.replace(REQUEST, temperature=0.0, seed=11, json_schema=schema)

    await provider(transport).complete(request)

    body = json.loads(transport.last.content)
    assert body["temperature"] == 0.0
    assert body["seed"] == 11
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "phase_output", "schema": schema, "strict": False},
    }


@pytest.mark.parametrize(
    ("model", "setting", "field"),
    [
        ("qwen3-32b", "auto", "max_tokens"),
        ("gpt-4.1-mini", "auto", "max_tokens"),
        ("o1", "auto", "max_completion_tokens"),
        ("o3-mini-2025-01-31", "auto", "max_completion_tokens"),
        ("o4-mini", "auto", "max_completion_tokens"),
        ("gpt-5", "auto", "max_completion_tokens"),
        ("gpt-5.1-codex", "auto", "max_completion_tokens"),
        ("openai/gpt-5-mini", "auto", "max_completion_tokens"),  # gateways prefix the vendor
        ("gpt-50-turbo", "auto", "max_tokens"),
        ("olmo-2", "auto", "max_tokens"),
        ("my-azure-deployment", "max_completion_tokens", "max_completion_tokens"),
        ("o3", "max_tokens", "max_tokens"),
    ],
)
async def test_output_budget_field_by_model_family_or_setting(model: str, setting: str, field: str) -> None:
    transport = at(URL, reply(200, json=chat({"content": "ok"})))
    settings = OpenAICompatSettings(_env_file=None, base_url=BASE, max_tokens_field=setting)

    await OpenAIChatProvider(openai_compat_endpoint(settings), transport).complete(
        dataclasses.replace(REQUEST, model=model)
    )

    body = json.loads(transport.last.content)
    assert body[field] == REQUEST.max_tokens
    other = {"max_tokens", "max_completion_tokens"} - {field}
    assert other.isdisjoint(body)


@pytest.mark.parametrize(("reason", "finish"), [("length", "length"), ("content_filter", "other")])
async def test_finish_reason(reason: str, finish: str) -> None:
    body = chat({"content": "x"})
    body["choices"][0]["finish_reason"] = reason
    transport = at(URL, reply(200, json=body))

    completion = await provider(transport).complete(REQUEST)

    assert completion.finish_reason == finish


@pytest.mark.parametrize(
    ("message", "reasoning"),
    [
        pytest.param({"content": "{}", "reasoning_content": "deepseek thinks"}, "deepseek thinks"),
        pytest.param({"content": "<think>qwen thinks</think>\n{}"}, "qwen thinks"),
    ],
)
async def test_reasoning_is_kept_out_of_the_text(message: dict[str, Any], reasoning: str) -> None:
    transport = at(URL, reply(200, json=chat(message)))

    completion = await provider(transport).complete(REQUEST)

    assert completion.text == "{}"
    assert completion.reasoning == reasoning


@pytest.mark.parametrize(
    ("status", "body", "error_class", "code", "message"),
    [
        pytest.param(
            429,
            {"error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}},
            QuotaExceeded,
            "insufficient_quota",
            "quota",
            id="insufficient-quota",
        ),
        pytest.param(
            401,
            {"error": {"message": "bad key", "type": "invalid_request_error", "code": "invalid_api_key"}},
            AuthenticationError,
            "invalid_api_key",
            "bad key",
            id="openai-401",
        ),
        pytest.param(
            400,
            {"object": "error", "message": "bad role", "type": "BadRequestError", "code": 400},
            BadRequest,
            "BadRequestError",
            "bad role",
            id="vllm-flat",
        ),
        pytest.param(
            503,
            {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}},
            Overloaded,
            "unavailable_error",
            "Loading model",
            id="llama-cpp-loading",
        ),
        pytest.param(
            500,
            {"error": {"message": "CUDA out of memory", "type": "server_error"}},
            UpstreamServerError,
            "server_error",
            "CUDA out of memory",
            id="500",
        ),
        pytest.param(529, {"error": {"message": "busy"}}, Overloaded, None, "busy", id="529"),
    ],
)
async def test_errors(
    status: int,
    body: dict[str, Any],
    error_class: type[ProviderError],
    code: str | None,
    message: str,
) -> None:
    transport = at(URL, reply(status, json=body))

    with pytest.raises(ProviderError) as caught:
        await provider(transport).complete(REQUEST)

    assert type(caught.value) is error_class
    assert caught.value.code == code
    assert caught.value.message == message
    assert caught.value.status_code == status


@pytest.mark.parametrize(
    ("response", "quoted"),
    [
        pytest.param(reply(200, text="\n\nnot json"), "not json", id="not-json"),
        pytest.param(reply(200, json={"id": "x"}), "no choices", id="no-choices"),
        pytest.param(
            reply(200, json=chat({"content": None, "refusal": "I can't"})),
            "I can't",
            id="null-content",
        ),
        pytest.param(
            reply(200, json={"error": {"message": "model crashed"}}),
            "model crashed",
            id="error-with-200",
        ),
    ],
)
async def test_malformed_success_bodies(response: Answer, quoted: str) -> None:
    transport = at(URL, response)

    with pytest.raises(ProviderResponseError) as caught:
        await provider(transport).complete(REQUEST)

    assert quoted in caught.value.message


async def test_availability() -> None:
    transport = answering(reply())
    assert provider(transport, key=None).available is True
    assert provider(transport).default_model == "gpt-4.1-mini"
    unset = provider(transport, base_url=None)
    assert unset.available is False
    assert unset.missing_settings == ("OPENAI_COMPAT_BASE_URL",)


async def test_key_straddling_the_quote_limit_is_not_partly_leaked() -> None:
    transport = at(URL, reply(200, text="x" * 195 + KEY + "y" * 400))

    with pytest.raises(ProviderResponseError) as caught:
        await provider(transport).complete(REQUEST)

    assert KEY[:6] not in caught.value.message
    assert "[redacted]" in caught.value.message
