from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pydantic import SecretStr

from app.domain import CompletionRequest, Prompt, Usage
from app.providers.anthropic import AnthropicProvider
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
from app.settings import AnthropicSettings
from app.transport import Transport
from tests.fakes.transport import at, reply

KEY = "sk-ant-secret-key-123"
URL = "https://api.anthropic.com/v1/messages"
REQUEST = CompletionRequest(
    model="claude-sonnet-4-5", prompt=Prompt("You plan.", "Plan it."), max_tokens=800, timeout_s=60
)


def provider(transport: Transport, key: str | None = KEY) -> AnthropicProvider:
    settings = AnthropicSettings(_env_file=None, api_key=SecretStr(key) if key else None)
    return AnthropicProvider(settings, transport)


def message(content: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 20, "output_tokens": 7},
    }
    body.update(fields)
    return body


def error(status_type: str, text: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": status_type, "message": text}, "request_id": "r"}


async def test_success_request_shape_and_text() -> None:
    body = message([{"type": "text", "text": "Part one. "}, {"type": "text", "text": "Two."}])
    transport = at(URL, reply(200, json=body, headers={"request-id": "req_42"}))

    completion = await provider(transport).complete(REQUEST)

    sent = transport.last
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["content-type"] == "application/json"
    assert "authorization" not in sent.headers
    assert json.loads(sent.content) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 800,
        "system": "You plan.",
        "messages": [{"role": "user", "content": "Plan it."}],
    }
    assert completion.text == "Part one. Two."
    assert completion.usage == Usage(20, 7)
    assert completion.finish_reason == "stop"
    assert completion.upstream_request_id == "req_42"


async def test_temperature_and_json_schema() -> None:
    transport = at(URL, reply(200, json=message([{"type": "text", "text": "{}"}])))
    schema = {"type": "object", "required": ["a"]}
    request = dataclasses.replace(REQUEST, temperature=0.3, seed=5, json_schema=schema)

    await provider(transport).complete(request)

    body = json.loads(transport.last.content)
    assert body["temperature"] == 0.3
    assert "top_p" not in body
    assert "seed" not in body  # the Messages API has none
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


async def test_usage_counts_cached_input() -> None:
    usage = {
        "input_tokens": 5,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 1000,
        "output_tokens": 9,
    }
    transport = at(URL, reply(200, json=message([{"type": "text", "text": "ok"}], usage=usage)))

    completion = await provider(transport).complete(REQUEST)

    assert completion.usage == Usage(1105, 9)


async def test_thinking_blocks_become_reasoning() -> None:
    content = [
        {"type": "thinking", "thinking": "Consider the market.", "signature": "sig"},
        {"type": "redacted_thinking", "data": "EncryptedBlob"},
        {"type": "text", "text": '{"ok": true}'},
    ]
    transport = at(URL, reply(200, json=message(content)))

    completion = await provider(transport).complete(REQUEST)

    assert completion.text == '{"ok": true}'
    assert completion.reasoning == "Consider the market.\n\n[redacted thinking]"


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("refusal", "other"),
    ],
)
async def test_stop_reason_mapping(stop_reason: str, finish: str) -> None:
    body = message([{"type": "text", "text": "x"}], stop_reason=stop_reason)
    transport = at(URL, reply(200, json=body))

    completion = await provider(transport).complete(REQUEST)

    assert completion.finish_reason == finish


@pytest.mark.parametrize(
    ("status", "error_type", "error_class"),
    [
        (429, "rate_limit_error", RateLimited),
        (529, "overloaded_error", Overloaded),
        (500, "api_error", UpstreamServerError),
        (504, "timeout_error", UpstreamServerError),
        (401, "authentication_error", AuthenticationError),
        (403, "permission_error", AuthenticationError),
        (402, "billing_error", QuotaExceeded),
        (400, "billing_error", QuotaExceeded),
        (400, "invalid_request_error", BadRequest),
        (404, "not_found_error", ModelUnavailable),
        (413, "invalid_request_error", BadRequest),
    ],
)
async def test_errors(
    status: int,
    error_type: str,
    error_class: type[ProviderError],
) -> None:
    transport = at(URL, reply(status, json=error(error_type, "upstream says no")))

    with pytest.raises(ProviderError) as caught:
        await provider(transport).complete(REQUEST)

    assert type(caught.value) is error_class
    assert caught.value.status_code == status
    assert caught.value.code == error_type
    assert caught.value.message == "upstream says no"


GATEWAY = "https://gateway.ai.cloudflare.com/v1/acct/gw/anthropic"
GATEWAY_TOKEN = "cf-aig-secret-456"


def gateway_provider(transport: Transport, *, key: str | None) -> AnthropicProvider:
    settings = AnthropicSettings(
        _env_file=None,
        api_key=SecretStr(key) if key else None,
        base_url=GATEWAY,
        gateway_token=SecretStr(GATEWAY_TOKEN),
    )
    return AnthropicProvider(settings, transport)


@pytest.mark.parametrize("key", [KEY, None], ids=["own-key", "key-stored-in-gateway"])
async def test_authenticated_gateway_gets_cf_aig_authorization(key: str | None) -> None:
    transport = at(f"{GATEWAY}/v1/messages", reply(200, json=message([{"type": "text", "text": "ok"}])))
    adapter = gateway_provider(transport, key=key)

    await adapter.complete(REQUEST)

    sent = transport.last
    assert sent.headers["cf-aig-authorization"] == f"Bearer {GATEWAY_TOKEN}"
    assert sent.headers.get("x-api-key") == key  # none at all when the gateway holds the key
    assert adapter.available and adapter.missing_settings == ()


async def test_no_gateway_token_sends_no_gateway_header() -> None:
    transport = at(URL, reply(200, json=message([{"type": "text", "text": "ok"}])))

    await provider(transport).complete(REQUEST)

    assert "cf-aig-authorization" not in transport.last.headers


async def test_echoed_gateway_token_is_redacted() -> None:
    body = error("authentication_error", f"gateway rejected Bearer {GATEWAY_TOKEN}")
    transport = at(f"{GATEWAY}/v1/messages", reply(401, json=body))

    with pytest.raises(AuthenticationError) as caught:
        await gateway_provider(transport, key=None).complete(REQUEST)

    assert GATEWAY_TOKEN not in str(caught.value)
    assert caught.value.message == "gateway rejected Bearer [redacted]"


@pytest.mark.parametrize(
    ("error_type", "error_class", "retryable"),
    [
        ("overloaded_error", Overloaded, True),
        ("api_error", UpstreamServerError, True),
        ("rate_limit_error", RateLimited, True),
        ("invalid_request_error", BadRequest, False),
        ("not_found_error", ModelUnavailable, False),
        ("something_new", BadRequest, False),
    ],
)
async def test_error_body_with_http_200_is_classified_by_its_type(
    error_type: str,
    error_class: type[ProviderError],
    retryable: bool,
) -> None:
    transport = at(URL, reply(200, json=error(error_type, "said no after 200")))

    with pytest.raises(ProviderError) as caught:
        await provider(transport).complete(REQUEST)

    assert type(caught.value) is error_class
    assert caught.value.retryable is retryable
    assert caught.value.code == error_type
    assert caught.value.status_code == 200
    assert caught.value.message == "said no after 200"


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        pytest.param(
            {"output_tokens": 7}, Usage(len("You plan.Plan it.") // 4, 7, estimated=True), id="no-input"
        ),
        pytest.param(
            {"output_tokens": 7, "cache_read_input_tokens": 900},
            Usage(len("You plan.Plan it.") // 4, 7, estimated=True),
            id="only-cached-input",
        ),
        pytest.param({"input_tokens": 20}, Usage(20, len("abcdefgh") // 4, estimated=True), id="no-output"),
        pytest.param(
            {"input_tokens": None, "output_tokens": 7}, Usage(4, 7, estimated=True), id="null-input"
        ),
        pytest.param({"input_tokens": 0, "output_tokens": 7}, Usage(0, 7), id="zero-is-a-count"),
    ],
)
async def test_usage_missing_a_count_is_estimated_not_zero(usage: dict[str, Any], expected: Usage) -> None:
    transport = at(URL, reply(200, json=message([{"type": "text", "text": "abcdefgh"}], usage=usage)))

    completion = await provider(transport).complete(REQUEST)

    assert completion.usage == expected


@pytest.mark.parametrize(
    ("content", "unfinished"),
    [
        pytest.param([{"type": "redacted_thinking", "data": "blob"}], True, id="redacted-only"),
        pytest.param(
            [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "  "}], True, id="blank-text"
        ),
        pytest.param(
            [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "{}"}], False, id="answered"
        ),
        pytest.param([], False, id="nothing-at-all"),
    ],
)
async def test_thinking_without_text_is_unfinished(content: list[dict[str, Any]], unfinished: bool) -> None:
    transport = at(URL, reply(200, json=message(content, stop_reason="max_tokens")))

    completion = await provider(transport).complete(REQUEST)

    assert completion.reasoning_unfinished is unfinished
    assert completion.truncated
